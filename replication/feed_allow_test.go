package replication

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// A member that does not hold a shard is answered as if the shard were not served here, before
// anything of the shard is read; one that holds it gets past the check.
func TestFeedServerAllowOnlyRefusesOtherShards(t *testing.T) {
	s := NewFeedServer(nil)
	s.set("europe", unavailableOrigin{})
	s.set("africa", unavailableOrigin{})
	asked := 0
	s.AllowOnly(func(peer, shard string) bool {
		asked++
		return peer == "edge-cdg" && shard == "europe"
	})
	serve := func(peer, shard string) []byte {
		t.Helper()
		q := FeedRequest{Kind: FeedCheckpoint, Shard: shard}
		b, err := q.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_ = s.Serve(context.Background(), struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(b), &out}, peer)
		return out.Bytes()
	}
	for _, c := range []struct{ peer, shard string }{{"edge-cdg", "africa"}, {"edge-nbo", "europe"}} {
		if got := serve(c.peer, c.shard); len(got) < 2 || got[0] != feedVersion || got[1] != feedUnknown {
			t.Fatalf("%s asking for %s: answer %x, want the unknown-shard status", c.peer, c.shard, got)
		}
	}
	// Allowed: the request reaches the shard (which has no checkpoint to give now).
	if got := serve("edge-cdg", "europe"); len(got) < 2 || got[1] != feedUnavailable || asked != 3 {
		t.Fatalf("allowed request: answer %x after %d checks", got, asked)
	}
}

// unavailableOrigin serves a shard that has nothing to give yet.
type unavailableOrigin struct{}

func (unavailableOrigin) feedEntries(context.Context, FeedRequest) (Checkpoint, []FeedEntry, error) {
	return Checkpoint{}, nil, &FeedError{Status: feedUnavailable, Message: "nothing yet"}
}

func (unavailableOrigin) feedCheckpoint(context.Context, FeedRequest) (Checkpoint, error) {
	return Checkpoint{}, &FeedError{Status: feedUnavailable, Message: "nothing yet"}
}

func (unavailableOrigin) feedCopy(context.Context, FeedRequest) (Checkpoint, []FeedEntry, *stateSnapshot, error) {
	return Checkpoint{}, nil, nil, &FeedError{Status: feedUnavailable, Message: "nothing yet"}
}
