package node

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// An edge that learns it is revoked destroys its data key and its data and stops: nothing readable
// remains in its data dir, and it refuses to start there again.
func TestRevokedEdgeDestroysItsData(t *testing.T) {
	cf := startControlFed(t, ctlSpecs(fedplan.MemberSpec{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe"}}))
	edgeID := cf.peer("edge-cdg")
	edge := cf.nodes["edge-cdg"]
	dir := cf.configs["edge-cdg"].DataDir

	lyon := cf.http("lyon-1")
	secret, _, err := lyon.Tokens().Issue(auth.Request{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}})
	if err != nil {
		t.Fatal(err)
	}
	lyon.tokens["fr"] = secret
	r := frRecord("FR-SECRET-1", secretSerial)
	r.Model = secretModel
	lyon.importLines(t, "fr", jsonLines(r))
	testutil.WaitFor(t, 20*time.Second, "the edge to hold the record", func() bool {
		_, ok, _ := edge.groups["europe"].State().Get("FR-SECRET-1")
		return ok
	})
	tn := cf.http("edge-cdg")
	var resp wire.SearchResponse
	tn.json(t, "ops", "POST", "/v1/search", map[string]any{"serial": secretSerial, "make": "glock", "model": secretModel}).decode(t, &resp)
	if len(resp.Results) == 0 || !resp.Results[0].Hit {
		t.Fatalf("no hit on the edge: %+v", resp.Results)
	}
	if err := edge.groups["europe"].Snapshot(); err != nil {
		t.Fatal(err)
	}

	sr, err := transport.SignRevocation(cf.rootPriv, transport.Revocation{PeerID: edgeID, Name: "edge-cdg", RevokedAt: time.Now(), Reason: "device lost"})
	if err != nil {
		t.Fatal(err)
	}
	if a := cf.http("lyon-2").json(t, "admin", "POST", "/v1/federation/revocations", sr); a.status != 200 {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	testutil.WaitFor(t, 30*time.Second, "the edge to destroy its data", func() bool {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return slices.Contains(names, revokedFile) && !slices.Contains(names, seal.KeyFileName) && !slices.Contains(names, "node.db") && !slices.Contains(names, "shards")
	})
	// It stopped serving: its raft groups and node.db are closed.
	if !edge.atRest.revoked.Load() {
		t.Fatal("the edge did not record its revocation")
	}
	if found, files := readableIn(t, dir, secretSerial, secretModel); len(found) > 0 || files > 2 {
		t.Fatalf("after revocation the data dir holds %d files, readable: %v", files, found)
	}
	_, err = Open(cf.configs["edge-cdg"], Options{})
	if !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "destroyed") {
		t.Fatalf("start on a revoked node's dir: %v", err)
	}
}
