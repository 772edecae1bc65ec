package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// fedCluster is a whole federation in one process: every member a real node over libp2p on
// loopback, with its own data dir.
type fedCluster struct {
	t      *testing.T
	layout *Layout
	nodes  map[string]*Node
}

// handedOut are the ports freePort gave this test process: the kernel may offer a port again once
// its listener is closed, and two members on one port dial themselves instead of each other.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

func freePort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		handedOut.Lock()
		taken := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if !taken {
			return port
		}
	}
}

func startFederation(t *testing.T, specs []MemberSpec, tune func(*config.Config)) *fedCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a federation of nodes over libp2p; skipped with -short")
	}
	for i := range specs {
		specs[i].HTTPAddr = "127.0.0.1:0"
		if specs[i].P2PAddrs == nil {
			specs[i].P2PAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))}
		}
	}
	layout, err := WriteFederation(t.TempDir(), specs, func(c *config.Config) {
		c.Federation.TestFaults = true
		if tune != nil {
			tune(c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	fc := &fedCluster{t: t, layout: layout, nodes: map[string]*Node{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(specs))
	for _, c := range layout.Configs {
		wg.Add(1)
		go func(c *config.Config) {
			defer wg.Done()
			n, err := Open(c, Options{Logger: testLogger(t, c.Name)})
			if err != nil {
				errs <- fmt.Errorf("%s: %w", c.Name, err)
				return
			}
			mu.Lock()
			fc.nodes[c.Name] = n
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, n := range fc.nodes {
			n.Close()
		}
	})
	for err := range errs {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, n := range fc.nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return fc
}

func (fc *fedCluster) admin() auth.Principal {
	return auth.Principal{Agency: "GS-ADMIN", Roles: []string{"admin"}}
}

// digests returns, per shard, the digest each holder reports.
func (fc *fedCluster) digests() map[string]map[string]string {
	out := map[string]map[string]string{}
	for name, n := range fc.nodes {
		for _, s := range n.Shards() {
			if out[s.Shard] == nil {
				out[s.Shard] = map[string]string{}
			}
			out[s.Shard][name] = s.Digest
		}
	}
	return out
}

func (fc *fedCluster) converged() bool {
	for _, holders := range fc.digests() {
		first := ""
		for _, d := range holders {
			if first == "" {
				first = d
			}
			if d != first {
				return false
			}
		}
	}
	return true
}

func (fc *fedCluster) importAt(name string, p auth.Principal, recs []record.Record) {
	fc.t.Helper()
	n := fc.nodes[name]
	ctx := context.Background()
	byShard := map[string][]record.Record{}
	for _, r := range recs {
		s, _ := n.shardMap.Shard(r.RecordingCountry)
		byShard[s] = append(byShard[s], r)
	}
	for s, rs := range byShard {
		res, err := n.apply(ctx, s, &replication.Command{Op: replication.OpUpsert, Principal: principalOf(p), Records: rs})
		if err != nil || len(res.Errors) > 0 {
			fc.t.Fatalf("import at %s: %v %+v", name, err, res.Errors)
		}
	}
}

func fedSpecs() []MemberSpec {
	return []MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
		{Name: "ncb-ke", Role: "ncb", Country: "KE", Shards: []string{"africa"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe", "africa"}},
		{Name: "edge-nbo", Role: "edge", Country: "KE", Shards: []string{"africa", "mena"}},
	}
}

func fedRecords(country string, from, to int) []record.Record {
	var out []record.Record
	for i := from; i < to; i++ {
		r := frRecord(fmt.Sprintf("%s-%06d", country, i), fmt.Sprintf("%sX%06d", country, i))
		r.RecordingCountry = country
		out = append(out, r)
	}
	return out
}

func TestFederationReplicatesForwardsAndSearchesRemotely(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder", "searcher"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 1000))
	fc.importAt("ncb-ke", ke, fedRecords("KE", 0, 500))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	for name, n := range fc.nodes {
		for _, s := range n.Shards() {
			want := map[string]uint64{"europe": 1000, "africa": 500}[s.Shard]
			if s.Records != want {
				t.Errorf("%s holds %d records of %s, want %d", name, s.Records, s.Shard, want)
			}
		}
	}
	// The Nairobi edge holds africa and mena: a French record is found on a peer, and said so.
	resp, err := fc.nodes["edge-nbo"].Search(context.Background(), auth.Principal{Agency: "KE-CUSTOMS", Roles: []string{"searcher"}},
		SearchRequest{Serial: "FRX000123"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].ID != "FR-000123" {
		t.Fatalf("remote search: %+v", resp.Results)
	}
	for _, c := range resp.Coverage.Shards {
		wantSource := map[string]string{"africa": "local", "mena": "local"}[c.Shard]
		if wantSource == "" {
			wantSource = "remote"
		}
		if c.Source != wantSource {
			t.Errorf("coverage %+v, want source %s", c, wantSource)
		}
	}
	if !resp.Coverage.Complete {
		t.Error("coverage incomplete although every shard was reachable")
	}
	// Members see each other alive, and their gossiped digests agree per shard (the central nodes
	// hold all five shards, so this also shows the health blob is not truncated).
	testutil.WaitFor(t, 20*time.Second, "lyon-1 to see every member alive with its shards", func() bool {
		digests := map[string]map[string]bool{}
		for _, m := range fc.nodes["lyon-1"].Members() {
			if m.Status != "alive" || len(m.Shards) == 0 {
				return false
			}
			for _, s := range m.Shards {
				if s.Digest == "" {
					return false
				}
				if digests[s.Shard] == nil {
					digests[s.Shard] = map[string]bool{}
				}
				digests[s.Shard][s.Digest] = true
			}
		}
		for _, d := range digests {
			if len(d) != 1 {
				return false
			}
		}
		return len(digests) == 5
	})
}

func TestFederationNCBCannotWriteAnotherCountrysRecordThroughAnyNode(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 10))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}
	changed := fedRecords("FR", 0, 1)[0]
	changed.Serial = "STOLEN-BY-KE"
	ctx := context.Background()
	for name, n := range fc.nodes {
		// Through the API path: refused when ordered.
		if err := n.writeOne(ctx, ke, replication.OpUpdate, &changed); toAPIError(err).Status != 403 {
			t.Errorf("KE update of a FR record via %s: %v", name, err)
		}
	}
	// A member forwarding a forged command (KE's node claiming a FR principal) is refused by the
	// leader, and an honest-looking command with KE's principal is refused on apply.
	keNode := fc.nodes["ncb-ke"]
	for _, p := range []replication.Principal{{Agency: "FR-NCB", Country: "FR"}, {Agency: "GS", Admin: true}, {Agency: "KE-NCB", Country: "KE"}} {
		cmd := &replication.Command{Op: replication.OpUpdate, Principal: p, Records: []record.Record{changed}}
		data, _ := cmd.MarshalBinary()
		target, _ := keNode.writeTarget("europe")
		var res replication.Result
		err := keNode.fed.call(ctx, target, transport.ProtoApply, applyRequest{Shard: "europe", Command: data}, &res)
		if err == nil && len(res.Errors) == 0 {
			t.Errorf("forwarded command with principal %+v was applied", p)
		}
	}
	for name, n := range fc.nodes {
		if r, ok := n.getRecord("FR-000000"); ok && r.Serial != "FRX000000" {
			t.Fatalf("%s: FR record changed to %q", name, r.Serial)
		}
	}
}

func TestFederationEdgeCutKeepsAnsweringStaleThenConverges(t *testing.T) {
	fc := startFederation(t, fedSpecs(), func(c *config.Config) { c.MaxStaleness = config.Duration{Duration: 2 * time.Second} })
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 200))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	edge := fc.nodes["edge-cdg"]
	edge.fed.faults.Isolate(edge.fed.id.ID)
	fc.importAt("ncb-fr", fr, fedRecords("FR", 200, 2000))
	// The cut edge still answers from its copy, and says it is stale once max_staleness has passed.
	testutil.WaitFor(t, 15*time.Second, "the isolated edge to answer from its stale copy", func() bool {
		resp, err := edge.Search(context.Background(), auth.Principal{Agency: "FR-DOUANE", Roles: []string{"searcher"}}, SearchRequest{Serial: "FRX000100"})
		if err != nil || len(resp.Results) == 0 {
			return false
		}
		for _, c := range resp.Coverage.Shards {
			if c.Shard == "europe" {
				return c.Stale
			}
		}
		return false
	})
	for _, s := range edge.Shards() {
		if s.Shard == "europe" && s.Records != 200 {
			t.Fatalf("the cut edge received writes: %+v", s)
		}
	}
	// The central nodes stop counting the silent edge alive (suspect first when its silence
	// outlasts suspectAfter before memberlist declares it dead), and nobody else.
	var seen []string
	testutil.WaitFor(t, 30*time.Second, "lyon-1 to count the silent edge dead", func() bool {
		st := memberStatusOf(fc.nodes["lyon-1"], "edge-cdg")
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		return st == "dead"
	})
	t.Logf("edge-cdg as lyon-1 saw it during the cut: %v", seen)
	for _, m := range fc.nodes["lyon-1"].Members() {
		if m.Name != "edge-cdg" && m.Status != "alive" {
			t.Errorf("%s is %s while only edge-cdg was cut", m.Name, m.Status)
		}
	}
	t0 := time.Now()
	edge.fed.faults.Rejoin(edge.fed.id.ID)
	testutil.WaitFor(t, 30*time.Second, "the edge alive again", func() bool { return memberStatusOf(fc.nodes["lyon-1"], "edge-cdg") == "alive" })
	testutil.WaitFor(t, 60*time.Second, "every member to converge", fc.converged)
	t.Logf("edge converged %v after heal", time.Since(t0))
	for _, s := range edge.Shards() {
		if s.Shard == "europe" && (s.Records != 2000 || s.Stale) {
			t.Fatalf("edge after heal: %+v", s)
		}
	}
}

func memberStatusOf(n *Node, name string) string {
	for _, m := range n.Members() {
		if m.Name == name {
			return m.Status
		}
	}
	return ""
}

// testLogger keeps a node's log and prints it when the test fails.
func testLogger(t *testing.T, name string) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("---- log of %s ----\n%s", name, buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// An edge behind NAT listens nowhere: it dials out to the central nodes, holds relay reservations
// on them, and still replicates its shards and gossips its health.
func TestFederationNATedEdgeReplicatesThroughRelays(t *testing.T) {
	specs := fedSpecs()
	specs = append(specs, MemberSpec{Name: "edge-nat", Role: "edge", Country: "FR", Shards: []string{"europe"}, P2PAddrs: []string{}})
	fc := startFederation(t, specs, nil)
	fc.importAt("ncb-fr", auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}, fedRecords("FR", 0, 300))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	nat := fc.nodes["edge-nat"]
	for _, s := range nat.Shards() {
		if s.Shard == "europe" && s.Records != 300 {
			t.Fatalf("NATed edge holds %d europe records", s.Records)
		}
	}
	testutil.WaitFor(t, 30*time.Second, "the NATed edge alive with its shard", func() bool {
		for _, m := range fc.nodes["lyon-1"].Members() {
			if m.Name == "edge-nat" {
				return m.Status == "alive" && len(m.Shards) == 1
			}
		}
		return false
	})

	// How each member reaches the NATed edge, as GET /v1/cluster/members reports it. The edge holds
	// a connection of its own to every central node (its relay reservations), so the central nodes
	// report it direct. Every other member has talked to it by now (gossip joins everyone) and
	// reports it relayed (it dialled the edge through a central relay) or direct, and a direct
	// connection to an edge that listens nowhere can only be one the edge dialled: never "none".
	natID := nat.fed.id.ID
	centrals := map[string]bool{}
	for _, e := range nat.fed.roster.List() {
		if e.Role == transport.RoleCentral {
			centrals[e.PeerID.String()] = true
		}
	}
	for name, n := range fc.nodes {
		if name == "edge-nat" {
			continue
		}
		var m Member
		testutil.WaitFor(t, 20*time.Second, "a connection to the NATed edge", func() bool {
			m = memberOf(n, "edge-nat")
			return m.Conn != ConnNone && (!centrals[n.fed.id.ID.String()] || m.Conn == ConnDirect)
		})
		if len(m.ConnAddrs) == 0 {
			t.Fatalf("%s reports edge-nat %s with no connection addresses", name, m.Conn)
		}
		switch m.Conn {
		case ConnRelayed:
			for _, a := range m.ConnAddrs {
				addr, err := ma.NewMultiaddr(a)
				if err != nil {
					t.Fatalf("%s reports a connection address %q: %v", name, a, err)
				}
				relay, _ := addr.ValueForProtocol(ma.P_P2P) // the first /p2p/ is the relay's
				if !isCircuit(addr) || !centrals[relay] {
					t.Errorf("%s reports edge-nat relayed over %s, want a circuit through a central relay", name, a)
				}
			}
		case ConnDirect:
			for _, c := range n.fed.host.P2P().Network().ConnsToPeer(natID) {
				if !isCircuit(c.RemoteMultiaddr()) && c.Stat().Direction != network.DirInbound {
					t.Errorf("%s dialled edge-nat directly at %s, which it does not listen on", name, c.RemoteMultiaddr())
				}
			}
		default:
			t.Errorf("%s reports edge-nat conn %q (%v)", name, m.Conn, m.ConnAddrs)
		}
		t.Logf("%s reaches edge-nat: %s %v", name, m.Conn, m.ConnAddrs)
	}
	for _, m := range nat.Members() {
		if m.Role == string(transport.RoleCentral) && m.Conn != ConnDirect {
			t.Errorf("edge-nat reports central %s as %q, want direct (it dials the central nodes itself)", m.Name, m.Conn)
		}
	}

	// fedarms_peer_connections sorts the other members by how this node reaches them, as the
	// member list does.
	ncb := fc.nodes["ncb-fr"]
	want := map[string]float64{}
	for _, m := range ncb.Members() {
		if !m.Self {
			want[m.Conn]++
		}
	}
	mfs, err := ncb.met.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "fedarms_peer_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	// A connection may open or close between the two reads; the total is the roster's either way.
	if got[ConnDirect]+got[ConnRelayed]+got[ConnNone] != float64(len(fc.nodes)-1) || got[ConnDirect] == 0 {
		t.Errorf("fedarms_peer_connections at ncb-fr = %v, members say %v", got, want)
	}
}

// memberOf is how n reports the member called name.
func memberOf(n *Node, name string) Member {
	for _, m := range n.Members() {
		if m.Name == name {
			return m
		}
	}
	return Member{}
}
