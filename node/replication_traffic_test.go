package node

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	itestutil "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
)

// Every member counts its replication bytes per shard and peer, and names the source of each copy
// (its leader today; nobody on the leader itself). The edge runs under a bandwidth cap.
func TestFederationCountsReplicationBytesAndNamesSources(t *testing.T) {
	specs := []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe"}},
	}
	fc := startFederation(t, specs, func(c *config.Config) {
		if c.Name == "edge-cdg" {
			c.Replication.MaxBandwidth = "4Mbit"
		}
	})
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 2000))
	itestutil.WaitFor(t, 60*time.Second, "every member to converge", fc.converged)

	var leader string
	for _, s := range fc.nodes["edge-cdg"].Shards() {
		if s.Shard == "europe" {
			leader = s.Leader
		}
	}
	if leader == "" {
		t.Fatal("edge-cdg knows no leader of europe")
	}
	for name, n := range fc.nodes {
		for _, s := range n.Shards() {
			if s.Shard != "europe" {
				continue
			}
			want := s.Leader
			if name == s.Leader {
				want = ""
			}
			if s.Source != want {
				t.Errorf("%s: europe's source %q, want %q (leader %q)", name, s.Source, want, s.Leader)
			}
		}
	}
	edge, lead := fc.nodes["edge-cdg"], fc.nodes[leader]
	got := testutil.ToFloat64(edge.met.replRecv.WithLabelValues("europe", leader))
	sent := testutil.ToFloat64(lead.met.replSent.WithLabelValues("europe", "edge-cdg"))
	answers := testutil.ToFloat64(edge.met.replSent.WithLabelValues("europe", leader))
	t.Logf("europe, %s -> edge-cdg: %.0f bytes sent, %.0f received; %.0f bytes of answers", leader, sent, got, answers)
	// The test's records differ by a counter and compress very well, but not below a byte each.
	if got < 2000 || sent == 0 || answers == 0 {
		t.Fatalf("europe from %s to edge-cdg: %.0f bytes sent, %.0f received, %.0f answered", leader, sent, got, answers)
	}
	if c := testutil.ToFloat64(edge.met.replRecv.WithLabelValues("control", leader)); c == 0 {
		// The control group's leader may be another central; some central has sent control traffic.
		total := 0.0
		for _, s := range []string{"lyon-1", "lyon-2", "lyon-3"} {
			total += testutil.ToFloat64(edge.met.replRecv.WithLabelValues("control", s))
		}
		if total == 0 {
			t.Error("edge-cdg counted no control-group bytes")
		}
	}
}
