package node

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	itestutil "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/replication"
)

// forgeFunc alters the batches a member serves over the feed.
type forgeFunc = func(replication.Checkpoint, []replication.FeedEntry) (replication.Checkpoint, []replication.FeedEntry)

// forgeEach serves every entry of a batch changed by change (on a copy of its bytes).
func forgeEach(change func([]byte) []byte) forgeFunc {
	return func(cp replication.Checkpoint, entries []replication.FeedEntry) (replication.Checkpoint, []replication.FeedEntry) {
		out := make([]replication.FeedEntry, len(entries))
		for i, e := range entries {
			e.Data = change(bytes.Clone(e.Data))
			out[i] = e
		}
		return cp, out
	}
}

// ofNewerFormat marks an entry as written in a command format no release reads yet, as a newer
// release would write it.
func ofNewerFormat(b []byte) []byte {
	if len(b) > 0 {
		b[0] = replication.CommandFormatNewest + 1
	}
	return b
}

// withForgedRecord adds a record that was never written to an upsert.
func withForgedRecord(t *testing.T) func([]byte) []byte {
	return func(b []byte) []byte {
		var cmd replication.Command
		if err := cmd.UnmarshalBinary(b); err != nil || cmd.Op != replication.OpUpsert {
			return b
		}
		cmd.Records = append(cmd.Records, fedRecords("FR", 9999, 10000)...)
		out, err := cmd.MarshalBinary()
		if err != nil {
			t.Error(err)
			return b
		}
		return out
	}
}

// edge-cdg takes europe from ncb-fr over libp2p. When every source serves entries of a command
// format this release does not read, the edge halts europe and says why in /v1/shards and health,
// blaming no source; once they serve what the voters wrote it resumes. When ncb-fr then serves a
// batch with a record never written, the edge refuses it, counts it in
// fedarms_feed_refused_total{shard,peer}, audits feed.refused, drops ncb-fr, takes europe from the
// central node, and its copy ends equal to the voters'.
func TestFeedHostileSourceAtTheEdge(t *testing.T) {
	specs := []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe"}},
	}
	fc := startFederation(t, specs, func(c *config.Config) {
		if c.Name == "edge-cdg" {
			c.Replication.Sources = map[string][]string{"europe": {"ncb-fr"}}
		}
	})
	edge, ncb, central := fc.nodes["edge-cdg"], fc.nodes["ncb-fr"], fc.nodes["lyon-1"]
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	voters := central.groups["europe"].State()
	copyOf := func() *replication.State { return edge.copies["europe"].State() }
	same := func() bool {
		return copyOf().Hash() == voters.Hash() && copyOf().Stats().Digest == voters.Stats().Digest
	}
	itestutil.WaitFor(t, 30*time.Second, "a leader of europe", func() bool { return central.groups["europe"].IsLeader() })
	fc.importAt("lyon-1", fr, fedRecords("FR", 0, 200))
	europe := func() (s struct {
		Source, Halted string
		Needs          int
	}) {
		for _, st := range edge.Shards() {
			if st.Shard == "europe" {
				s.Source, s.Halted, s.Needs = st.Source, st.Halted, st.NeedsCommandFormat
			}
		}
		return s
	}
	// Until ncb-fr holds europe the edge takes it from the central nodes, its last resort, and
	// goes back to its first source once that answers.
	itestutil.WaitFor(t, 90*time.Second, "edge-cdg to take europe from ncb-fr", func() bool { return same() && europe().Source == "ncb-fr" })
	refused := func(peer string) float64 {
		return testutil.ToFloat64(edge.met.feedRefused.WithLabelValues("europe", peer))
	}

	// importForged imports batches at the leader until one reaches edge-cdg through a forging
	// source (forged reports it): a long poll already waiting at the source when it began to forge
	// is answered genuinely. It returns the end of the records imported and edge-cdg's applied
	// index before the batch that was forged.
	importForged := func(from int, forged func() bool) (int, uint64) {
		for i := from; i < from+100; i += 25 {
			before := copyOf().Stats().AppliedIndex
			fc.importAt("lyon-1", fr, fedRecords("FR", i, i+25))
			itestutil.WaitFor(t, 60*time.Second, "a batch to reach edge-cdg, genuine or forged", func() bool { return forged() || same() })
			if forged() {
				return i + 25, before
			}
		}
		t.Fatal("no forged batch reached edge-cdg")
		return 0, 0
	}

	// Every source serves entries of a newer format: the edge halts and says why.
	for _, n := range []*Node{ncb, central} {
		if !n.fed.feed.ForgeBatches("europe", forgeEach(ofNewerFormat)) {
			t.Fatalf("%s does not serve europe over the feed", n.cfg.Name)
		}
	}
	end, before := importForged(200, func() bool { return europe().Halted != "" })
	newer := int(replication.CommandFormatNewest + 1)
	if s := europe(); !strings.Contains(s.Halted, fmt.Sprintf("command format %d", newer)) || s.Needs != newer {
		t.Fatalf("/v1/shards of the halted fed shard: %+v", s)
	}
	if c := edge.Health().Checks["shard:europe"]; c.Status != "degraded" ||
		!strings.Contains(c.Detail, fmt.Sprintf("needs a release that reads raft command format %d", newer)) {
		t.Fatalf("health of the halted fed shard: %+v", c)
	}
	if got := copyOf().Stats().AppliedIndex; got != before {
		t.Fatalf("applied index moved from %d to %d past an entry it cannot read", before, got)
	}
	if d := edge.copies["europe"].(fedShard).Dropped(); len(d) != 0 || refused("ncb-fr")+refused("lyon-1") != 0 {
		t.Fatalf("sources blamed for entries of a newer format: dropped %v", d)
	}

	// The sources serve what the voters wrote again: the edge resumes.
	ncb.fed.serveFeed(ncb.groups["europe"])
	central.fed.serveFeed(central.groups["europe"])
	itestutil.WaitFor(t, 60*time.Second, "edge-cdg to resume europe", func() bool { return europe().Halted == "" && same() })
	if c := edge.Health().Checks["shard:europe"]; c.Status != "ok" {
		t.Fatalf("health of europe after the halt: %+v", c)
	}

	// ncb-fr serves a batch with a record never written.
	itestutil.WaitFor(t, 30*time.Second, "edge-cdg to take europe from ncb-fr again", func() bool { return europe().Source == "ncb-fr" })
	if !ncb.fed.feed.ForgeBatches("europe", forgeEach(withForgedRecord(t))) {
		t.Fatal("ncb-fr does not serve europe over the feed")
	}
	end, _ = importForged(end, func() bool { return refused("ncb-fr") > 0 })
	itestutil.WaitFor(t, 60*time.Second, "edge-cdg to converge from lyon-1", func() bool {
		return same() && europe().Source == "lyon-1"
	})
	if _, ok := edge.copies["europe"].(fedShard).Dropped()["ncb-fr"]; !ok {
		t.Fatal("ncb-fr not dropped as a source")
	}
	if _, found, _ := copyOf().Get("FR-009999"); found {
		t.Fatal("the forged record reached edge-cdg")
	}
	if got := copyOf().Stats().Records; got != uint64(end) {
		t.Fatalf("edge-cdg holds %d records, want %d", got, end)
	}
	entries, err := edge.audit.Tail(50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "feed.refused" && e.Agency == "member:ncb-fr" && strings.Contains(string(e.Query), "state hash differs") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no feed.refused audit entry for ncb-fr in %+v", entries)
	}
	if refused("ncb-fr") != 1 {
		t.Fatalf("fedarms_feed_refused_total{europe,ncb-fr} = %v, want 1", refused("ncb-fr"))
	}
}
