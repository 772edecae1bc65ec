package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

func upgradeSpecs() []fedplan.MemberSpec {
	return []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-nbo", Role: "edge", Country: "KE", Shards: []string{"africa"}},
	}
}

// Every member publishes its formats; raft command format 2 is held back while a member is not
// heard from (it blocks finalize, named), finalize runs only at a central node, is recorded for the
// whole federation, and every node then writes format 2 while the copies stay equal.
func TestUpgradeFinalizeHeldBackUntilEveryMemberReads(t *testing.T) {
	fc := startFederation(t, upgradeSpecs(), nil)
	ctx := context.Background()
	lyon := fc.nodes["lyon-2"]
	testutil.WaitFor(t, 30*time.Second, "every member's formats to be heard at lyon-2", func() bool {
		for _, m := range lyon.Members() {
			if !m.FormatsReported || m.Status != "alive" {
				return false
			}
		}
		return true
	})
	m := memberOf(lyon, "edge-nbo")
	if f := m.Formats["raft_command"]; f.Oldest != 1 || f.Newest != 2 || f.Writes != 1 {
		t.Fatalf("edge-nbo's raft command formats as lyon-2 sees them: %+v", m.Formats)
	}
	st := lyon.UpgradeStatus()
	if !st.CanFinalize || len(st.Blockers) != 0 || len(st.Finalized) != 0 {
		t.Fatalf("status with every member upgraded: %+v", st)
	}
	if f := st.Formats[0]; f.Kind != "raft_command" || f.Writes != 1 || f.Newest != 2 || !f.HeldBack {
		t.Fatalf("raft_command before finalize: %+v", f)
	}

	// A member not heard from blocks finalize, by name.
	edge := fc.nodes["edge-nbo"]
	edge.Close()
	delete(fc.nodes, "edge-nbo")
	testutil.WaitFor(t, 30*time.Second, "edge-nbo to block finalize", func() bool {
		st = lyon.UpgradeStatus()
		return !st.CanFinalize && len(st.Blockers) == 1 && strings.HasPrefix(st.Blockers[0], "edge-nbo")
	})
	_, err := lyon.FinalizeUpgrade(ctx, fc.admin())
	if e := wire.As(err); e == nil || e.Code != "upgrade_blocked" || !strings.Contains(e.Message, "edge-nbo") {
		t.Fatalf("finalize with edge-nbo unheard: %v", err)
	}
	if f := fc.nodes["lyon-1"].groups["europe"].CommandFormat(); f != replication.CommandFormatLegacy {
		t.Fatalf("a refused finalize changed the format written to %d", f)
	}

	var cfg = fc.layout.Configs[len(fc.layout.Configs)-1]
	if cfg.Name != "edge-nbo" {
		t.Fatalf("layout order: %s", cfg.Name)
	}
	edge, err = Open(cfg, Options{Logger: testLogger(t, "edge-nbo")})
	if err != nil {
		t.Fatal(err)
	}
	fc.nodes["edge-nbo"] = edge
	testutil.WaitFor(t, 30*time.Second, "finalize to be possible again", func() bool { return lyon.UpgradeStatus().CanFinalize })

	if _, err := fc.nodes["ncb-fr"].FinalizeUpgrade(ctx, fc.admin()); err == nil || !strings.Contains(err.Error(), "central node") {
		t.Fatalf("finalize at an NCB node: %v", err)
	}
	res, err := lyon.FinalizeUpgrade(ctx, fc.admin())
	if err != nil || !res.Changed || res.Formats["raft_command"] != 2 {
		t.Fatalf("finalize: %+v %v", res, err)
	}
	testutil.WaitFor(t, 30*time.Second, "every node to write command format 2", func() bool {
		for _, n := range fc.nodes {
			for _, g := range n.groups {
				if g.CommandFormat() != replication.CommandFormatChecked {
					return false
				}
			}
		}
		return true
	})
	if again, err := lyon.FinalizeUpgrade(ctx, fc.admin()); err != nil || again.Changed {
		t.Fatalf("a second finalize: %+v %v", again, err)
	}
	if st := fc.nodes["edge-nbo"].UpgradeStatus(); st.Finalized["raft_command"] != 2 || st.CanFinalize || st.Formats[0].HeldBack {
		t.Fatalf("status after finalize, at edge-nbo: %+v", st)
	}
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder", "searcher"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 300))
	fc.importAt("edge-nbo", ke, fedRecords("KE", 0, 200))
	testutil.WaitFor(t, 30*time.Second, "every member to converge on format 2", fc.converged)
	for name, n := range fc.nodes {
		for _, s := range n.Shards() {
			if want := map[string]uint64{"europe": 300, "africa": 200}[s.Shard]; s.Records != want || s.Halted != "" {
				t.Fatalf("%s %s: %+v, want %d records", name, s.Shard, s, want)
			}
		}
	}
}

// An entry of a command format no release here reads halts that shard on every holder, which say
// so with the format they need in /v1/shards, health and metrics; the other shards go on.
func TestUpgradeNewerCommandFormatHaltsOnlyThatShard(t *testing.T) {
	fc := startFederation(t, upgradeSpecs(), nil)
	ctx := context.Background()
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder", "searcher"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 100))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)

	future, _ := (&replication.Command{Op: replication.OpUpsert, Principal: principalOf(fr), Records: fedRecords("FR", 100, 101)}).MarshalBinary()
	future[0] = replication.CommandFormatNewest + 1 // as a release after this one would write it
	testutil.WaitFor(t, 30*time.Second, "the entry ordered at europe's leader", func() bool {
		for _, n := range fc.nodes {
			if g := n.groups["europe"]; g != nil && g.IsLeader() {
				return g.OrderEncoded(ctx, future) == nil
			}
		}
		return false
	})
	ncb := fc.nodes["ncb-fr"]
	testutil.WaitFor(t, 30*time.Second, "europe to halt at ncb-fr", func() bool { return ncb.Shards()[0].Halted != "" })
	s := ncb.Shards()[0]
	if s.NeedsCommandFormat != 3 || !strings.Contains(s.Halted, "command format 3") || !s.Stale || s.Records != 100 {
		t.Fatalf("europe at ncb-fr: %+v", s)
	}
	if c := ncb.Health().Checks["shard:europe"]; c.Status != "degraded" || !strings.Contains(c.Detail, "needs a release that reads raft command format 3") {
		t.Fatalf("health: %+v", c)
	}
	secret, _, err := ncb.Tokens().Create("GS-OPS", "", []string{"operator"}, "")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	ncb.Handler().ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `fedarms_shard_needs_command_format{shard="europe"} 3`) {
		t.Fatalf("metrics:\n%s", grepLines(rec.Body.String(), "needs_command_format"))
	}

	// africa goes on.
	fc.importAt("edge-nbo", ke, fedRecords("KE", 0, 50))
	testutil.WaitFor(t, 30*time.Second, "africa to reach every holder", func() bool {
		for _, n := range fc.nodes {
			for _, s := range n.Shards() {
				if s.Shard == "africa" && (s.Records != 50 || s.Halted != "") {
					return false
				}
			}
		}
		return true
	})
}
