package transport

import (
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fedarms/fedarms/internal/testutil"
)

// One NAT address may open a burst of connections (several edges behind it reconnecting), then is
// held to the steady rate; loopback is never limited, and another address has its own budget.
func TestConnRateLimiterPerAddress(t *testing.T) {
	l := Limits{ConnRatePerIP: 0.001, ConnBurstPerIP: 40}.withDefaults().connRateLimiter()
	nat := netip.MustParseAddr("198.51.100.7")
	for i := range 40 {
		if !l.Allow(nat) {
			t.Fatalf("connection %d from one address refused within the burst", i+1)
		}
	}
	if l.Allow(nat) {
		t.Fatal("connection past the burst allowed")
	}
	if !l.Allow(netip.MustParseAddr("198.51.100.8")) {
		t.Fatal("another address shares the first one's budget")
	}
	for range 1000 {
		if !l.Allow(netip.MustParseAddr("127.0.0.1")) {
			t.Fatal("loopback limited")
		}
	}
	if d := DefaultLimits(); d.ConnBurstPerIP < 64 || d.ConnRatePerIP < 1 {
		t.Fatalf("default connection rate %v/s burst %d would hold back a site's edges", d.ConnRatePerIP, d.ConnBurstPerIP)
	}
}

// A central node never gives a member a circuit address through itself: such a dial can only fail.
func TestCentralHasNoCircuitThroughItself(t *testing.T) {
	f := newFed(t)
	a := f.start("central-a", RoleCentral, func(c *Config) { c.Relay = true })
	b := f.start("central-b", RoleCentral, func(c *Config) { c.Relay = true })
	edge := f.start("edge", RoleEdge, nil)
	testutil.WaitFor(t, 5*time.Second, "central-a to know edge's addresses", func() bool {
		return len(a.host.P2P().Peerstore().Addrs(edge.ident.ID)) > 0
	})
	var viaB bool
	for _, addr := range a.host.P2P().Peerstore().Addrs(edge.ident.ID) {
		relay, err := addr.ValueForProtocol(ma.P_P2P) // in a circuit address, the relay's peer id
		if err != nil {
			continue
		}
		id, err := peer.Decode(relay)
		if err != nil {
			continue
		}
		if id == a.ident.ID {
			t.Fatalf("central-a holds a circuit to edge through itself: %s", addr)
		}
		if id == b.ident.ID {
			viaB = true
		}
	}
	if !viaB {
		t.Fatalf("central-a has no circuit to edge through central-b: %v", a.host.P2P().Peerstore().Addrs(edge.ident.ID))
	}
}
