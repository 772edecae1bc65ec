package replication

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzFeedRequest: any bytes a peer sends as a request are refused or read within bounds, and a
// request read back is the one written.
func FuzzFeedRequest(f *testing.F) {
	q := FeedRequest{Kind: FeedEntries, Shard: "europe", After: 7, Want: 9, MaxEntries: 8, MaxBytes: 1 << 20, Wait: time.Second}
	b, _ := q.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 3, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := readFeedRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if len(q.Shard) > maxFeedShard || q.MaxEntries > maxFeedEntries || q.MaxBytes > maxFeedBatch || q.Wait > maxFeedWait {
			t.Fatalf("request out of bounds: %+v", q)
		}
		again, err := q.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		q2, err := readFeedRequest(bufio.NewReader(bytes.NewReader(again)))
		if err != nil || !reflect.DeepEqual(q2, q) {
			t.Fatalf("round trip: %+v %v, want %+v", q2, err, q)
		}
	})
}

// FuzzFeedEntries: any body a source sends is refused or gives entries in order, after the index
// asked for and up to the checkpoint, within the byte bound.
func FuzzFeedEntries(f *testing.F) {
	cp := Checkpoint{Shard: "europe", Index: 12, Signer: "n0", Sig: []byte("sig")}
	f.Add(appendFeedEntries(nil, &cp, []FeedEntry{{Index: 10, Term: 2, Data: []byte("x")}, {Index: 12, Term: 2, Data: []byte("yz")}}), uint64(9))
	f.Add(appendFeedEntries(nil, &cp, nil), uint64(3))
	f.Fuzz(func(t *testing.T, b []byte, after uint64) {
		cp, entries, err := readFeedEntries(bufio.NewReader(bytes.NewReader(b)), after, true)
		if err != nil {
			return
		}
		prev, total := after, 0
		for _, e := range entries {
			if e.Index <= prev || e.Index > cp.Index {
				t.Fatalf("entry %d out of order after %d, checkpoint %d", e.Index, prev, cp.Index)
			}
			prev = e.Index
			total += len(e.Data)
		}
		if total > maxFeedBatch || len(entries) > maxFeedEntries || len(cp.Sig) > maxFeedSig || len(cp.Signer) > maxFeedSigner {
			t.Fatal("body out of bounds")
		}
	})
}

// FuzzFeedServe: a server answers any request bytes without panicking.
func FuzzFeedServe(f *testing.F) {
	s := NewFeedServer(nil)
	q := FeedRequest{Kind: FeedCopy, Shard: "europe"}
	b, _ := q.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		_ = s.Serve(context.Background(), struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(b), &out}, "fuzz")
		if out.Len() < 2 || out.Bytes()[0] != feedVersion {
			t.Fatalf("answer %x", out.Bytes())
		}
	})
}

// A hostile source's answers are refused before anything is sized by what they claim.
func TestFeedHostileAnswers(t *testing.T) {
	cp := Checkpoint{Shard: "europe", Index: 5, Signer: "n0"}
	hdr := cp.appendWire(nil)
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"count over the bound", binary.AppendUvarint(append([]byte(nil), hdr...), maxFeedEntries+1), "entries over"},
		{"entry longer than the bound", binary.AppendUvarint(append(binary.AppendUvarint(append([]byte(nil), hdr...), 1), 5, 1), maxFeedEntry+1), "over"},
		{"entry past the checkpoint", append(binary.AppendUvarint(append([]byte(nil), hdr...), 1), 6, 1, 0), "out of order"},
		{"entry at or before the index asked", append(binary.AppendUvarint(append([]byte(nil), hdr...), 1), 2, 1, 0), "out of order"},
		{"signature over the bound", append(append(appendFeedString(nil, "europe"), 5), append(make([]byte, StateHashSize), append(appendFeedString(nil, "n0"), 0xff, 0xff, 0x03)...)...), "signature"},
		{"data after the entries", append(binary.AppendUvarint(append([]byte(nil), hdr...), 0), 1), "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readFeedEntries(bufio.NewReader(bytes.NewReader(tc.body)), 2, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A source that answers nothing costs the asker its timeout, not a hang.
	client, srv := net.Pipe()
	defer srv.Close()
	go io.Copy(io.Discard, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ask(ctx, func(context.Context, string) (io.ReadWriteCloser, error) { return client, nil }, "silent", FeedRequest{Kind: FeedEntries, Shard: "europe"})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("silent source: %v after %v", err, time.Since(start))
	}
}

// A stream cut after the entries (a timeout closing it) is a cut, not bytes that are wrong.
func TestFeedCutAfterEntriesIsNotARefusal(t *testing.T) {
	cp := Checkpoint{Shard: "europe", Index: 5, Signer: "n0"}
	body := appendFeedEntries(nil, &cp, []FeedEntry{{Index: 4, Term: 1, Data: []byte("x")}})
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(body), errReader{io.ErrClosedPipe}))
	_, _, err := readFeedEntries(r, 2, true)
	if err == nil || !cut(err) {
		t.Fatalf("error %v: want a cut", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
