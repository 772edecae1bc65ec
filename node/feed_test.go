package node

import (
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	itestutil "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/replication"
)

// Over libp2p, a holder at edge-cdg takes europe from ncb-fr (a raft non-voter, which asks a
// central node for each checkpoint) and verifies each batch against the roster. A checkpoint
// signed by a non-central member's key is refused.
func TestFeedOverTheFederation(t *testing.T) {
	specs := []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"africa"}},
	}
	fc := startFederation(t, specs, nil)
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 1000))
	itestutil.WaitFor(t, 60*time.Second, "every member to converge", fc.converged)

	edge, ncb := fc.nodes["edge-cdg"], fc.nodes["ncb-fr"]
	h, err := replication.OpenHolder(replication.HolderConfig{Shard: "europe", Dir: t.TempDir(), Sources: []string{"ncb-fr"},
		Centrals: edge.fed.centralNames, Dial: edge.fed.dialFeed, Verify: edge.fed.verifyCheckpoint,
		Wait: time.Second, Timeout: 5 * time.Second, Away: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	same := func() bool {
		want := ncb.groups["europe"].State().Stats()
		got := h.State().Stats()
		return got.Digest == want.Digest && got.Records == want.Records && h.State().Hash() == ncb.groups["europe"].State().Hash()
	}
	itestutil.WaitFor(t, 60*time.Second, "the fed holder to take europe from ncb-fr", same)
	if src, _ := h.Source(); src != "ncb-fr" {
		t.Fatalf("source %q, want ncb-fr", src)
	}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 1000, 1500))
	itestutil.WaitFor(t, 60*time.Second, "the fed holder to follow", same)

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
	if len(h.Dropped()) != 0 {
		t.Fatalf("honest sources dropped: %v", h.Dropped())
	}
}
