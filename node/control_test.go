package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// ctlFed is an in-process federation whose members are reached over HTTP too, for the roster API.
// Members named late are left out of the roster file the others read; each late member gets a file
// that lists everyone, itself included, as an operator joining an existing federation would.
type ctlFed struct {
	*fedCluster
	t        *testing.T
	configs  map[string]*config.Config
	entries  map[string]transport.SignedEntry
	rootPriv ed25519.PrivateKey
	mu       sync.Mutex
	testNode map[string]*testNode // guarded by mu
}

func startControlFed(t *testing.T, specs []fedplan.MemberSpec, late ...string) *ctlFed {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a federation of nodes over libp2p; skipped with -short")
	}
	for i := range specs {
		specs[i].HTTPAddr = "127.0.0.1:0"
		specs[i].P2PAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))}
	}
	layout, err := fedplan.WriteFederation(t.TempDir(), specs, func(c *config.Config) { c.Federation.TestFaults = true })
	if err != nil {
		t.Fatal(err)
	}
	cf := &ctlFed{fedCluster: &fedCluster{t: t, layout: layout, nodes: map[string]*Node{}}, t: t,
		configs: map[string]*config.Config{}, entries: map[string]transport.SignedEntry{}, testNode: map[string]*testNode{}}
	if cf.rootPriv, err = os.ReadFile(filepath.Join(layout.Dir, "root.key")); err != nil {
		t.Fatal(err)
	}
	rosterFile := filepath.Join(layout.Dir, "roster.json")
	all, err := fedplan.LoadRoster(rosterFile)
	if err != nil {
		t.Fatal(err)
	}
	var seed []transport.SignedEntry
	for _, se := range all {
		cf.entries[se.Entry.Name] = se
		if !slices.Contains(late, se.Entry.Name) {
			seed = append(seed, se)
		}
	}
	writeRoster(t, rosterFile, seed)
	writeRoster(t, filepath.Join(layout.Dir, "roster-full.json"), all)
	for _, c := range layout.Configs {
		cf.configs[c.Name] = c
		if slices.Contains(late, c.Name) {
			c.Federation.RosterFile = filepath.Join(layout.Dir, "roster-full.json")
		}
	}
	t.Cleanup(cf.closeAll)
	var wg sync.WaitGroup
	for _, c := range layout.Configs {
		if !slices.Contains(late, c.Name) {
			wg.Go(func() { cf.open(c.Name) })
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	cf.waitReady()
	return cf
}

func writeRoster(t *testing.T, path string, entries []transport.SignedEntry) {
	t.Helper()
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// open starts (or restarts) a member with an HTTP server and tokens: "admin" and "ops" (operator,
// not admin). Tokens live in node.db, so a restarted member keeps them.
func (cf *ctlFed) open(name string) *testNode {
	n, err := Open(cf.configs[name], Options{Logger: testLogger(cf.t, name)})
	if err != nil {
		cf.t.Errorf("%s: %v", name, err)
		return nil
	}
	tn := &testNode{Node: n, srv: httptest.NewServer(n.Handler()), tokens: map[string]string{}}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if old := cf.testNode[name]; old != nil {
		tn.tokens = old.tokens
	} else {
		for _, p := range []struct{ name, agency, roles string }{{"admin", "GS-ADMIN", "admin"}, {"ops", "GS-OPS", "operator,searcher"}} {
			secret, _, err := n.Tokens().Create(p.agency, "", strings.Split(p.roles, ","), "")
			if err != nil {
				cf.t.Error(err)
			}
			tn.tokens[p.name] = secret
		}
	}
	cf.testNode[name] = tn
	cf.nodes[name] = n
	return tn
}

func (cf *ctlFed) close(name string) {
	cf.mu.Lock()
	tn := cf.testNode[name]
	cf.mu.Unlock()
	tn.srv.Close()
	tn.Close()
}

func (cf *ctlFed) closeAll() {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	for _, tn := range cf.testNode {
		tn.srv.Close()
		tn.Close()
	}
}

func (cf *ctlFed) http(name string) *testNode {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.testNode[name]
}

// waitReady waits until every running member except those named has its shard leaders and knows
// the control group's leader (non-voters only once the leader has added them).
func (cf *ctlFed) waitReady(except ...string) {
	cf.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, n := range cf.nodes {
		if slices.Contains(except, name) {
			continue
		}
		if err := n.WaitReady(ctx); err != nil {
			cf.t.Fatalf("%s: %v", name, err)
		}
		if err := n.fed.control.WaitForLeader(ctx); err != nil {
			cf.t.Fatalf("%s: %v", name, err)
		}
	}
}

func (cf *ctlFed) peer(name string) peer.ID { return cf.entries[name].Entry.PeerID }

func hasServer(servers []raft.Server, name string, suffrage raft.ServerSuffrage) bool {
	return slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == name && s.Suffrage == suffrage })
}

func ctlSpecs(extra ...fedplan.MemberSpec) []fedplan.MemberSpec {
	return append([]fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
	}, extra...)
}

// forgedBy signs e with a key that is not the federation's.
func forgedBy(t *testing.T, e transport.Entry) transport.SignedEntry {
	t.Helper()
	_, other, err := transport.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	se, err := transport.SignEntry(other, e)
	if err != nil {
		t.Fatal(err)
	}
	return se
}

func TestControlAdmitAtRuntimeJoinsAndReplicates(t *testing.T) {
	cf := startControlFed(t, ctlSpecs(fedplan.MemberSpec{Name: "edge-new", Role: "edge", Country: "FR", Shards: []string{"europe"}}), "edge-new")
	newID := cf.peer("edge-new")
	edge := cf.open("edge-new")
	if edge == nil {
		t.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Not admitted yet: the others refuse it.
	if _, err := edge.fed.host.NewStream(ctx, cf.peer("lyon-1"), transport.ProtoControl); err == nil {
		t.Fatal("a member not in the roster reached lyon-1")
	}
	ncb := cf.http("ncb-fr")
	for _, path := range []string{"/v1/federation/members", "/v1/federation/revocations"} {
		if a := ncb.json(t, "ops", "POST", path, cf.entries["edge-new"]); a.status != 403 {
			t.Fatalf("operator token on %s: %d %s", path, a.status, a.body)
		}
	}
	if a := ncb.json(t, "ops", "GET", "/v1/federation/roster", nil); a.status != 403 {
		t.Fatalf("operator token reads the roster: %d", a.status)
	}
	// Signed by another key, or edited after signing: 400, and nothing changes anywhere.
	tampered := cf.entries["edge-new"]
	tampered.Entry.Shards = []string{"*"}
	for _, se := range []transport.SignedEntry{forgedBy(t, cf.entries["edge-new"].Entry), tampered} {
		a := ncb.json(t, "admin", "POST", "/v1/federation/members", se)
		if code, _ := a.errorCode(t); a.status != 400 || code != "bad_signature" {
			t.Fatalf("forged entry: %d %s", a.status, a.body)
		}
	}
	for name, n := range cf.nodes {
		if name != "edge-new" && (n.fed.roster.Has(newID) || len(n.fed.control.State().Members) != 0) {
			t.Fatalf("%s admitted a forged entry", name)
		}
	}
	// Admitted through the NCB node, which is not in the control group's quorum: forwarded.
	a := ncb.json(t, "admin", "POST", "/v1/federation/members", cf.entries["edge-new"])
	var rc wire.RosterChange
	a.decode(t, &rc)
	if a.status != 200 || !rc.Changed || rc.Name != "edge-new" || rc.PeerID != newID.String() {
		t.Fatalf("admit: %d %s", a.status, a.body)
	}
	testutil.WaitFor(t, 10*time.Second, "every node to admit the new member", func() bool {
		for _, n := range cf.nodes {
			if !n.fed.roster.Has(newID) {
				return false
			}
		}
		return true
	})
	// The leaders add it to the control group and to its shard, and it replicates.
	lyon := cf.nodes["lyon-1"]
	testutil.WaitFor(t, 15*time.Second, "edge-new as a non-voter of control and europe", func() bool {
		cs, err1 := lyon.fed.control.Servers()
		es, err2 := lyon.groups["europe"].Servers()
		return err1 == nil && err2 == nil && hasServer(cs, "edge-new", raft.Nonvoter) && hasServer(es, "edge-new", raft.Nonvoter)
	})
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}
	cf.importAt("ncb-fr", fr, fedRecords("FR", 0, 200))
	testutil.WaitFor(t, 15*time.Second, "the new edge to hold europe's 200 records", func() bool {
		for _, s := range edge.Shards() {
			if s.Shard == "europe" {
				return s.Records == 200
			}
		}
		return false
	})
	// It learns the control state, its own admission included, and the roster says where each entry
	// came from.
	testutil.WaitFor(t, 10*time.Second, "the new edge to learn its own admission", func() bool { _, ok := edge.fed.control.Member(newID.String()); return ok })
	// The view names the control group's leader, which a loaded machine may leave unknown for a
	// moment (an election).
	var view wire.RosterView
	testutil.WaitFor(t, 15*time.Second, "lyon-2's roster view to name the control leader", func() bool {
		view = wire.RosterView{}
		cf.http("lyon-2").json(t, "admin", "GET", "/v1/federation/roster", nil).decode(t, &view)
		return view.Leader != ""
	})
	sources := map[string]string{}
	for _, m := range view.Members {
		sources[m.Entry.Name] = m.Source
	}
	if len(view.Members) != 5 || sources["edge-new"] != "control" || sources["lyon-1"] != "file" || view.Leader == "" {
		t.Fatalf("roster view: %+v", view)
	}
	// The same admission again is accepted and changes nothing.
	if a := ncb.json(t, "admin", "POST", "/v1/federation/members", cf.entries["edge-new"]); a.status != 200 || strings.Contains(string(a.body), `"changed":true`) {
		t.Fatalf("repeated admit: %d %s", a.status, a.body)
	}
	// A member's role cannot become central (nor stop being central): a central member is a new
	// identity that joins (central_test.go).
	central := cf.entries["edge-new"].Entry
	central.Role, central.Country, central.Shards, central.Serial = transport.RoleCentral, "", []string{"*"}, central.Serial+1
	signed, err := transport.SignEntry(cf.rootPriv, central)
	if err != nil {
		t.Fatal(err)
	}
	if a := ncb.json(t, "admin", "POST", "/v1/federation/members", signed); a.status != 409 || !strings.Contains(string(a.body), "role_change") {
		t.Fatalf("an edge made central: %d %s", a.status, a.body)
	}
	// A revocation signed by another key is refused, and the member stays.
	_, other, _ := transport.GenerateRootKey()
	forged, err := transport.SignRevocation(other, transport.Revocation{PeerID: newID, Name: "edge-new", RevokedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if a := cf.http("lyon-3").json(t, "admin", "POST", "/v1/federation/revocations", forged); a.status != 400 {
		t.Fatalf("forged revocation: %d %s", a.status, a.body)
	}
	for name, n := range cf.nodes {
		if !n.fed.roster.Has(newID) || n.fed.control.IsRevoked(newID.String()) {
			t.Fatalf("%s acted on a forged revocation", name)
		}
	}
	// A node that reaches no control leader says so: 503 with Retry-After, and nothing is ordered.
	ncbNode := cf.nodes["ncb-fr"]
	ncbNode.fed.faults.Isolate(ncbNode.fed.id.ID)
	good, err := transport.SignRevocation(cf.rootPriv, transport.Revocation{PeerID: newID, Name: "edge-new", RevokedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if a := ncb.json(t, "admin", "POST", "/v1/federation/revocations", good); a.status != 503 || a.header.Get("Retry-After") == "" {
		t.Fatalf("revocation without a reachable leader: %d %v %s", a.status, a.header, a.body)
	}
	ncbNode.fed.faults.Rejoin(ncbNode.fed.id.ID)
	if cf.nodes["lyon-1"].fed.control.IsRevoked(newID.String()) {
		t.Fatal("a revocation answered 503 was ordered")
	}
	// Every attempt is in the audit log of the node it was made at (written after the answer).
	var outcomes []string
	testutil.WaitFor(t, 5*time.Second, "the admission attempts in the audit log", func() bool {
		entries, err := cf.nodes["ncb-fr"].audit.Tail(50)
		if err != nil {
			t.Fatal(err)
		}
		outcomes = outcomes[:0]
		for _, e := range entries {
			if e.Action == "federation.admit" {
				outcomes = append(outcomes, e.Outcome)
			}
		}
		return slices.Equal(outcomes, []string{"bad_signature", "bad_signature", "ok", "ok", "role_change"})
	})
}

func TestControlRevokeDisconnectsAndSurvivesRestart(t *testing.T) {
	cf := startControlFed(t, ctlSpecs(fedplan.MemberSpec{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe"}}))
	edgeID := cf.peer("edge-cdg")
	edge := cf.nodes["edge-cdg"]
	testutil.WaitFor(t, 10*time.Second, "lyon-1 to connect to the edge", func() bool { return cf.nodes["lyon-1"].fed.host.Connected(edgeID) })
	sr, err := transport.SignRevocation(cf.rootPriv, transport.Revocation{PeerID: edgeID, Name: "edge-cdg", RevokedAt: time.Now(), Reason: "device lost"})
	if err != nil {
		t.Fatal(err)
	}
	a := cf.http("lyon-2").json(t, "admin", "POST", "/v1/federation/revocations", sr)
	if a.status != 200 || !strings.Contains(string(a.body), `"changed":true`) {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	others := []string{"lyon-1", "lyon-2", "lyon-3", "ncb-fr"}
	checkRevoked := func() {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, "every other node to revoke the edge", func() bool {
			for _, name := range others {
				n := cf.nodes[name]
				if n.fed.roster.Has(edgeID) || n.fed.host.Connected(edgeID) || !n.fed.control.IsRevoked(edgeID.String()) {
					return false
				}
			}
			return true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, name := range others {
			n := cf.nodes[name]
			if _, err := n.fed.host.NewStream(ctx, edgeID, transport.ProtoControl); err == nil {
				t.Fatalf("%s dialled the revoked member", name)
			}
			// The revoked member still lists the others and dials them: each refuses it on accept,
			// so no call gets through and no connection stays up on either side.
			var res replication.ControlResult
			if err := edge.fed.call(ctx, n.fed.id.ID, transport.ProtoControl, controlRequest{}, &res); err == nil || isRPCCode(err, "bad_request") {
				t.Fatalf("the revoked member reached %s: %v", name, err)
			}
			if n.fed.host.Connected(edgeID) {
				t.Fatalf("%s accepted the revoked member again", name)
			}
			testutil.WaitFor(t, 5*time.Second, "the edge to be disconnected", func() bool { return !edge.fed.host.Connected(n.fed.id.ID) })
		}
		// The leaders take it out of the control group and of its shard.
		testutil.WaitFor(t, 10*time.Second, "the edge to leave control and europe", func() bool {
			lyon := cf.nodes["lyon-1"]
			cs, err1 := lyon.fed.control.Servers()
			es, err2 := lyon.groups["europe"].Servers()
			return err1 == nil && err2 == nil && !hasServer(cs, "edge-cdg", raft.Nonvoter) && !hasServer(es, "edge-cdg", raft.Nonvoter)
		})
	}
	checkRevoked()
	var view wire.RosterView
	cf.http("ncb-fr").json(t, "admin", "GET", "/v1/federation/roster", nil).decode(t, &view)
	if len(view.Revoked) != 1 || view.Revoked[0].Revocation.PeerID != edgeID || view.Revoked[0].Revocation.Reason != "device lost" {
		t.Fatalf("roster view: %+v", view.Revoked)
	}
	// Its old entry, still valid under the root key, can never bring it back.
	if a := cf.http("lyon-1").json(t, "admin", "POST", "/v1/federation/members", cf.entries["edge-cdg"]); a.status != 409 {
		t.Fatalf("re-admit of a revoked member: %d %s", a.status, a.body)
	}
	// The others restart; their roster file still lists the revoked member.
	for _, name := range others {
		cf.close(name)
	}
	var wg sync.WaitGroup
	for _, name := range others {
		wg.Go(func() { cf.open(name) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	cf.waitReady("edge-cdg")
	checkRevoked()
}
