package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	itestutil "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// edge-cdg names ncb-fr as its source of europe: it holds europe as a fed holder, outside the
// raft group (the leader takes it out if it added it before the edge's health said "fed"),
// follows imports and deletes made at the leader, names its source in /v1/shards, finds a new
// record in a search, and falls back to a central node when ncb-fr stops. A checkpoint signed by
// a non-central member's key is refused.
func TestFeedOverTheFederation(t *testing.T) {
	specs := []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe", "africa"}},
	}
	fc := startFederation(t, specs, func(c *config.Config) {
		if c.Name == "edge-cdg" {
			c.Replication.Sources = map[string][]string{"europe": {"ncb-fr"}}
		}
	})
	edge, ncb := fc.nodes["edge-cdg"], fc.nodes["ncb-fr"]
	if _, raftGroup := edge.groups["europe"]; raftGroup || len(edge.fedHeld) != 1 {
		t.Fatalf("edge-cdg holds europe as a raft group (fed shards %v)", edge.fedHeld)
	}
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	leader := func() string {
		for _, c := range centralNames {
			if fc.nodes[c].groups["europe"].IsLeader() {
				return c
			}
		}
		return ""
	}
	itestutil.WaitFor(t, 30*time.Second, "a leader of europe", func() bool { return leader() != "" })
	fc.importAt(leader(), fr, fedRecords("FR", 0, 1000))
	fc.importAt("ncb-fr", fr, fedRecords("FR", 1000, 1200)) // forwarded by the NCB
	same := func() bool {
		want, got := ncb.groups["europe"].State(), edge.copies["europe"].State()
		return got.Stats().Digest == want.Stats().Digest && got.Stats().Records == want.Stats().Records && got.Hash() == want.Hash()
	}
	itestutil.WaitFor(t, 90*time.Second, "edge-cdg to take europe from ncb-fr", func() bool { return same() && fc.converged() })
	if got := edge.copies["europe"].State().Stats().Records; got != 1200 {
		t.Fatalf("edge-cdg holds %d records of europe, want 1200", got)
	}
	notMember := func() bool {
		g := fc.nodes[leader()].groups["europe"]
		servers, err := g.Servers()
		if err != nil {
			return false
		}
		for _, s := range servers {
			if s.ID == raft.ServerID("edge-cdg") {
				return false
			}
		}
		return true
	}
	itestutil.WaitFor(t, 60*time.Second, "edge-cdg out of europe's raft configuration", notMember)

	// Deletes at the leader reach the edge; a write at the edge goes to the leader.
	l := leader()
	if _, err := fc.nodes[l].apply(context.Background(), "europe", &replication.Command{Op: replication.OpDelete,
		Principal: principalOf(fr), IDs: []string{"FR-000001", "FR-000002"}}); err != nil {
		t.Fatal(err)
	}
	fc.importAt("edge-cdg", fr, fedRecords("FR", 5000, 5001))
	itestutil.WaitFor(t, 60*time.Second, "edge-cdg to follow the deletes and the write", func() bool {
		return same() && edge.copies["europe"].State().Stats().Records == 1199
	})
	shard := func() wire.ShardStatus {
		for _, s := range edge.Shards() {
			if s.Shard == "europe" {
				return s
			}
		}
		t.Fatal("edge-cdg does not report europe")
		return wire.ShardStatus{}
	}
	// A source that was slow to answer under load is away for a while, and the edge takes the
	// shard from a central node meanwhile; it goes back to ncb-fr, its first source, when that ends.
	reports := func() bool {
		s := shard()
		return s.Role == "fed" && s.Source == "ncb-fr" && !s.Stale && s.Digest == ncb.groups["europe"].State().Stats().Digest.String()
	}
	if !itestutil.Eventually(60*time.Second, reports) {
		t.Fatalf("edge-cdg reports europe as %+v", shard())
	}
	if h := edge.Health(); h.Checks["shard:europe"].Status != "ok" {
		t.Fatalf("edge-cdg health of europe: %+v", h.Checks["shard:europe"])
	}
	customs := auth.Principal{Agency: "CUSTOMS", Roles: []string{"searcher"}}
	// The search index follows the copy on its own worker: the record is found soon after.
	var resp *wire.SearchResponse
	var err error
	itestutil.WaitFor(t, 30*time.Second, "edge-cdg to find the new record", func() bool {
		resp, err = edge.Search(context.Background(), customs, wire.SearchRequest{Serial: fmtSerial("FR", 5000), Make: "glock"})
		return err == nil && len(resp.Results) > 0 && resp.Results[0].ID == "FR-005000"
	})
	for _, c := range resp.Coverage.Shards {
		if c.Shard == "europe" && c.Source != "local" {
			t.Fatalf("europe searched %s at edge-cdg, want local", c.Source)
		}
	}

	if b := testutil.ToFloat64(edge.met.replRecv.WithLabelValues("europe", "ncb-fr")); b < 1000 {
		t.Fatalf("feed bytes received from ncb-fr counted: %v", b)
	}
	if b := testutil.ToFloat64(ncb.met.replSent.WithLabelValues("europe", "edge-cdg")); b < 1000 {
		t.Fatalf("feed bytes served to edge-cdg counted at ncb-fr: %v", b)
	}
	// A checkpoint signed by an NCB's node key, under its own name or a central's, is refused.
	cp := replication.Checkpoint{Shard: "europe", Index: 1, Signer: "ncb-fr"}
	cp.Sig, _ = feedSigner{ncb.fed}.Sign(cp.SignedBytes())
	if err := edge.fed.verifyCheckpoint(&cp); err == nil || !strings.Contains(err.Error(), "not a central") {
		t.Fatalf("checkpoint signed by ncb-fr: %v", err)
	}
	cp.Signer = "lyon-1"
	if err := edge.fed.verifyCheckpoint(&cp); err == nil {
		t.Fatal("checkpoint signed by ncb-fr under lyon-1's name accepted")
	}

	// ncb-fr stops: the edge takes europe from a central node.
	ncb.Close()
	fc.importAt(l, fr, fedRecords("FR", 6000, 6050))
	want := fc.nodes[l].groups["europe"].State()
	itestutil.WaitFor(t, 90*time.Second, "edge-cdg to fall back to a central node", func() bool {
		src := shard().Source
		return strings.HasPrefix(src, "lyon-") && edge.copies["europe"].State().Hash() == want.Hash()
	})
	if d := edge.copies["europe"].(fedShard).Dropped(); len(d) != 0 {
		t.Fatalf("honest sources dropped: %v", d)
	}
}
