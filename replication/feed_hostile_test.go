package replication

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
)

// hostileOrigin serves a real copy's answers, tampered with.
type hostileOrigin struct {
	feedOrigin
	tamper func(cp Checkpoint, entries []FeedEntry) (Checkpoint, []FeedEntry)
}

func (o hostileOrigin) feedEntries(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, error) {
	cp, entries, err := o.feedOrigin.feedEntries(ctx, q)
	if err == nil {
		cp, entries = o.tamper(cp, entries)
	}
	return cp, entries, err
}

// injectRecord adds a record that was never written to the first upsert of a batch.
func injectRecord(t *testing.T) func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry) {
	return func(cp Checkpoint, entries []FeedEntry) (Checkpoint, []FeedEntry) {
		out := append([]FeedEntry(nil), entries...)
		for i, e := range out {
			var cmd Command
			if err := cmd.UnmarshalBinary(e.Data); err != nil || cmd.Op != OpUpsert {
				continue
			}
			cmd.Records = append(cmd.Records, rec("FR-9999999", "FR", "FORGED"))
			data, err := cmd.MarshalBinary()
			if err != nil {
				t.Error(err)
			}
			out[i].Data = data
			break
		}
		return cp, out
	}
}

// dropDeletes leaves out every delete.
func dropDeletes(cp Checkpoint, entries []FeedEntry) (Checkpoint, []FeedEntry) {
	var out []FeedEntry
	for _, e := range entries {
		var cmd Command
		if err := cmd.UnmarshalBinary(e.Data); err == nil && cmd.Op == OpDelete {
			continue
		}
		out = append(out, e)
	}
	return cp, out
}

// resign replaces the checkpoint's signature by signer's, after injecting a record.
func resign(t *testing.T, signer edSigner) func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry) {
	inject := injectRecord(t)
	return func(cp Checkpoint, entries []FeedEntry) (Checkpoint, []FeedEntry) {
		cp, entries = inject(cp, entries)
		cp.Signer = signer.name
		cp.Sig, _ = signer.Sign(cp.SignedBytes())
		return cp, entries
	}
}

// A holder fed a forged batch refuses it, reports the source, drops it, goes on from a central
// node and ends with the voters' copy.
func TestFeedForgedBatchRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T) func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry)
		reason string
	}{
		{"record never written", injectRecord, "state hash differs"},
		{"delete dropped", func(*testing.T) func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry) { return dropDeletes }, "state hash differs"},
		{"checkpoint signed by a non-central key", func(t *testing.T) func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry) {
			return resign(t, rogue("bad"))
		}, "not a central member"},
		{"checkpoint signed as a central with another key", func(t *testing.T) func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry) {
			return resign(t, rogue("n0"))
		}, "bad signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFeedCluster(t)
			c.write(0, 300, 50)
			bad := c.holder("bad", nil, "n3")
			c.net.server("bad").set("europe", hostileOrigin{feedOrigin: bad, tamper: tc.tamper(t)})
			edge := c.holder("edge", nil, "bad")
			c.write(300, 400, 50)
			c.deleteIDs(0, 50)
			var got [2]string
			select {
			case got = <-c.refusal:
			case <-time.After(30 * time.Second):
				t.Fatal("no refusal reported")
			}
			if got[0] != "bad" || !strings.Contains(got[1], tc.reason) {
				t.Fatalf("refusal %q, want of bad with %q", got, tc.reason)
			}
			c.waitHolders("the edge to converge from a central node")
			if _, ok := edge.Dropped()["bad"]; !ok {
				t.Fatalf("bad not dropped: %v", edge.Dropped())
			}
			if src, _ := edge.Source(); src != "n0" {
				t.Fatalf("edge takes the shard from %q, want the first central node", src)
			}
			if _, found, _ := edge.State().Get("FR-9999999"); found {
				t.Fatal("the forged record reached the edge")
			}
			if st := edge.State().Stats(); st.Records != 350 {
				t.Fatalf("edge holds %d records, want 350", st.Records)
			}
		})
	}
}

// hostileCopy answers every entries request with "behind" and serves a copy of another state
// under a genuine checkpoint.
type hostileCopy struct {
	feedOrigin
	forged *State
}

func (o hostileCopy) feedEntries(context.Context, FeedRequest) (Checkpoint, []FeedEntry, error) {
	return Checkpoint{}, nil, &FeedError{Status: feedBehind, Message: "take a copy"}
}

func (o hostileCopy) feedCopy(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, *stateSnapshot, error) {
	cp, entries, snap, err := o.feedOrigin.feedCopy(ctx, q)
	if err != nil {
		return cp, entries, snap, err
	}
	snap.Release()
	forged, err := o.forged.snapshot()
	return cp, entries, forged, err
}

// A copy of a state with a record the voters never committed, under a genuine checkpoint, is
// refused; the holder then takes the shard from a central node.
func TestFeedForgedCopyRefused(t *testing.T) {
	forgedCopyRefused(t, func(c hostileCopy) feedOrigin { return c })
}

// forgedCopyRefused has a source ("bad") serve, through the origin wrap makes of it, a copy of the
// honest state's records plus one never written, at the honest applied index and under its genuine
// checkpoint; an edge fed from it must refuse the copy for its state hash and converge from a
// central node without the forged record.
func forgedCopyRefused(t *testing.T, wrap func(hostileCopy) feedOrigin) {
	t.Helper()
	c := newFeedCluster(t)
	c.write(0, 200, 50)
	honest := c.holder("bad", nil, "n3")
	c.waitHolders("the source to take the records")
	forged, err := OpenState(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer forged.Close()
	recs := []Command{{Op: OpUpsert, Principal: Principal{Country: "FR"}}}
	honest.State().ForEach(func(r *record.Record) error { recs[0].Records = append(recs[0].Records, *r); return nil })
	recs[0].Records = append(recs[0].Records, rec("FR-9999999", "FR", "FORGED"))
	var res Result
	if _, err := forged.applyBatch([]appliedEntry{{index: honest.State().Stats().AppliedIndex, term: 1, cmd: &recs[0], result: &res}}); err != nil {
		t.Fatal(err)
	}
	c.net.server("bad").set("europe", wrap(hostileCopy{feedOrigin: honest, forged: forged}))
	edge := c.holder("edge", nil, "bad")
	select {
	case got := <-c.refusal:
		if got[0] != "bad" || !strings.Contains(got[1], "state hash differs") {
			t.Fatalf("refusal %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no refusal reported")
	}
	c.write(200, 250, 50)
	c.waitHolders("the edge to converge from a central node")
	if _, found, _ := edge.State().Get("FR-9999999"); found {
		t.Fatal("the forged record reached the edge")
	}
}

// A holder behind what its source keeps takes a copy of the source's state: from a fed holder
// that keeps one batch, and from a raft member whose log was compacted.
func TestFeedCopyWhenBehind(t *testing.T) {
	c := &feedCluster{cluster: newCluster(t, 3, 1, func(rc *raft.Config) {
		clusterTune(rc)
		rc.TrailingLogs, rc.SnapshotThreshold, rc.SnapshotInterval = 2, 4, 50*time.Millisecond
	}), net: newFeedNet(), holders: map[string]*Holder{}, refusal: make(chan [2]string, 16)}
	for _, m := range c.members {
		if m.voter {
			c.net.server(m.id).ServeGroup(m.g, c.net.central(m.id), nil)
		} else {
			c.net.server(m.id).ServeGroup(m.g, nil, FetchCheckpoint(c.net.dial, c.centrals, c.net.verify, 2*time.Second))
		}
	}
	c.write(0, 400, 20)
	c.waitCompacted()
	fromGroup := c.holder("ncb-2", func(hc *HolderConfig) { hc.KeepBytes = 1 }, "n3")
	c.waitHolders("a holder to copy from a compacted raft member")
	c.write(400, 600, 20)
	c.waitHolders("the holder to go on with entries")
	edge := c.holder("edge", nil, "ncb-2")
	c.waitHolders("a holder to copy from a holder that keeps one batch")
	c.write(600, 700, 20)
	c.waitHolders("all to converge")
	if src, _ := edge.Source(); src != "ncb-2" {
		t.Fatalf("edge takes the shard from %q", src)
	}
	if len(fromGroup.Dropped())+len(edge.Dropped()) != 0 {
		t.Fatal("an honest source was dropped")
	}
}
