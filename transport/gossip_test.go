package transport

import (
	"errors"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/testutil"
)

type gossipNode struct {
	n    *node
	t    *GossipTransport
	m    *memberlist.Memberlist
	mu   sync.Mutex
	h    Health                    // guarded by mu
	seen map[string]seenGossipNode // guarded by mu: copies taken in memberlist's events
}

// seenGossipNode is a copy of what memberlist said of a member: Members() hands out pointers that
// memberlist keeps writing to, so reading them would race.
type seenGossipNode struct {
	state memberlist.NodeStateType
	meta  []byte
}

// The events say what happened; the Node's own State field is not kept current by memberlist.
func (g *gossipNode) NotifyJoin(m *memberlist.Node)   { g.record(m, memberlist.StateAlive) }
func (g *gossipNode) NotifyLeave(m *memberlist.Node)  { g.record(m, memberlist.StateDead) }
func (g *gossipNode) NotifyUpdate(m *memberlist.Node) { g.record(m, memberlist.StateAlive) }

func (g *gossipNode) record(m *memberlist.Node, st memberlist.NodeStateType) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]seenGossipNode{}
	}
	g.seen[m.Name] = seenGossipNode{state: st, meta: append([]byte(nil), m.Meta...)}
}

func (g *gossipNode) setOutbox(n int) {
	g.mu.Lock()
	g.h.Outbox = n
	g.mu.Unlock()
}

// startGossip runs a memberlist over n's host with timings short enough for a test.
func startGossip(t *testing.T, f *fed, n *node) *gossipNode {
	t.Helper()
	tr, err := NewGossipTransport(n.host)
	if err != nil {
		t.Fatal(err)
	}
	g := &gossipNode{n: n, t: tr, h: Health{Role: n.entry.Role, Country: n.entry.Country, Version: "test",
		Shards: []ShardHealth{{Shard: "europe", Applied: 42, LagEntries: 1, LagSeconds: 2}}}}
	c := GossipConfig(n.host, tr)
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 2
	c.SuspicionMaxTimeoutMult = 2
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 500 * time.Millisecond
	c.TCPTimeout = time.Second
	c.Logger = log.New(f.logs, "memberlist "+n.name+" ", 0)
	c.Delegate = HealthDelegate{Current: func() Health {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.h
	}}
	c.Events = g
	m, err := memberlist.Create(c)
	if err != nil {
		t.Fatal(err)
	}
	g.m = m
	t.Cleanup(func() { m.Shutdown() })
	return g
}

// view is what g's memberlist says about p: its state and health, or ok=false if p is not listed.
func (g *gossipNode) view(p peer.ID) (memberlist.NodeStateType, Health, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.seen[p.String()]
	if !ok {
		return 0, Health{}, false
	}
	h, _ := DecodeHealth(m.meta)
	return m.state, h, true
}

func TestMemberlistOverLibp2p(t *testing.T) {
	f := newFed(t)
	roles := []Role{RoleCentral, RoleNCB, RoleEdge}
	var gs []*gossipNode
	for i, r := range roles {
		gs = append(gs, startGossip(t, f, f.start("node-"+strconv.Itoa(i), r, nil)))
	}
	for _, g := range gs[1:] {
		if _, err := g.m.Join([]string{JoinAddress(gs[0].n.ident.ID)}); err != nil {
			t.Fatalf("join: %v", err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "every node to see all three alive with their health", func() bool {
		for _, g := range gs {
			for _, other := range gs {
				st, h, ok := g.view(other.n.ident.ID)
				if !ok || st != memberlist.StateAlive || h.Role != other.n.entry.Role || len(h.Shards) != 1 {
					return false
				}
			}
		}
		return true
	})

	// A health change reaches the others.
	gs[1].setOutbox(7)
	if err := gs[1].m.UpdateNode(time.Second); err != nil {
		t.Fatalf("update node: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "the new outbox depth to spread", func() bool {
		for _, g := range []*gossipNode{gs[0], gs[2]} {
			if _, h, _ := g.view(gs[1].n.ident.ID); h.Outbox != 7 {
				return false
			}
		}
		return true
	})

	// The edge's host stops: the others mark it suspect, then dead.
	gone := gs[2].n.ident.ID
	f.log.Info("test: stopping the edge host")
	gs[2].n.host.Close()
	testutil.WaitFor(t, 10*time.Second, "the stopped node to be suspected or declared dead", func() bool {
		for _, g := range gs[:2] {
			if st, _, ok := g.view(gone); ok && st == memberlist.StateAlive {
				return false
			}
		}
		return true
	})
	// The live nodes still see each other alive (on a loaded machine one may be suspected for a
	// moment and refute it, so this is checked as an eventual state).
	testutil.WaitFor(t, 10*time.Second, "the live nodes to see each other alive", func() bool {
		for _, pair := range [][2]*gossipNode{{gs[0], gs[1]}, {gs[1], gs[0]}} {
			if st, _, ok := pair[0].view(pair[1].n.ident.ID); !ok || st != memberlist.StateAlive {
				return false
			}
		}
		return true
	})
}

func TestGossipAddressing(t *testing.T) {
	f := newFed(t)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleNCB, nil)
	outsider := newTestIdentity(t)
	tr, err := NewGossipTransport(a.host)
	if err != nil {
		t.Fatal(err)
	}

	ip, port := GossipAddr(b.ident.ID)
	ip2, _ := GossipAddr(b.ident.ID)
	if !ip.Equal(ip2) || ip[0] != 0xfd || port != GossipPort {
		t.Fatalf("gossip address %s:%d is not a stable fd00::/8 address", ip, port)
	}
	if ipA, _ := GossipAddr(a.ident.ID); ipA.Equal(ip) {
		t.Fatal("two members share a gossip address")
	}
	if got, _, _ := tr.FinalAdvertiseAddr("", 0); !got.Equal(func() net.IP { ip, _ := GossipAddr(a.ident.ID); return ip }()) {
		t.Fatalf("advertised %s, want a's gossip address", got)
	}

	hostPort := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	defer func() {
		tr.Shutdown()
		if _, err := tr.DialAddressTimeout(memberlist.Address{Name: b.ident.ID.String()}, time.Second); !errors.Is(err, ErrShutdown) {
			t.Errorf("dial after shutdown: %v, want ErrShutdown", err)
		}
	}()
	for _, tc := range []struct {
		name    string
		addr    memberlist.Address
		want    peer.ID
		wantErr bool
	}{
		{"by name", memberlist.Address{Addr: "[::1]:1", Name: b.ident.ID.String()}, b.ident.ID, false},
		{"by synthetic address", memberlist.Address{Addr: hostPort}, b.ident.ID, false},
		{"name not a peer id", memberlist.Address{Addr: hostPort, Name: "lyon-1"}, "", true},
		{"address of no member", memberlist.Address{Addr: JoinAddress(outsider.ID)[len(outsider.ID.String())+1:]}, "", true},
	} {
		got, err := tr.resolve(tc.addr)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: resolve(%v) = %s, %v", tc.name, tc.addr, got, err)
		}
	}
}
