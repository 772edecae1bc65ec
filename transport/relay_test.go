package transport

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fedarms/fedarms/internal/testutil"
)

// An edge that listens nowhere (as behind a NAT that only lets it dial out) reserves a slot on the
// central relay; a third member reaches it through the relay with nothing but the roster, and the
// circuit is not cut at libp2p's default 128 KiB because the relay raised its limits for members.
func TestEdgeReachableOnlyThroughCentralRelay(t *testing.T) {
	f := newFed(t)
	central := f.start("central", RoleCentral, func(c *Config) { c.Relay = true })
	edge := f.start("edge", RoleEdge, func(c *Config) {
		c.ListenAddrs = nil
		c.ReserveRelays = true
		c.EnableHolePunching = true
	})
	ncb := f.start("ncb", RoleNCB, nil)
	echo(t, edge)
	if len(edge.entry.Addrs) != 0 {
		t.Fatalf("edge listens at %v, want nowhere", edge.entry.Addrs)
	}
	testutil.WaitFor(t, 10*time.Second, "edge to hold a reservation on the central relay", func() bool {
		return slices.Contains(edge.host.Reservations(), central.ident.ID)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload := bytes.Repeat([]byte("relayed raft entry "), 64<<10) // ~1.2 MiB, past the default cap
	s, err := roundTrip(ctx, ncb, edge, payload)
	if err != nil {
		t.Fatalf("round trip through relay: %v", err)
	}
	addr := s.Conn().RemoteMultiaddr().String()
	if !strings.Contains(addr, "/p2p-circuit") || !strings.Contains(addr, central.ident.ID.String()) {
		t.Fatalf("connection to edge is %s, want a circuit through the central relay", addr)
	}
	if s.Conn().Stat().Limited {
		t.Fatal("relayed connection is limited; members' circuits should carry raft without caps")
	}

	// The relay forgets a reservation when the edge's connection to it drops; the edge notices and
	// reserves again, and the edge is reachable again.
	edge.host.closePeer(central.ident.ID)
	ncb.host.closePeer(edge.ident.ID)
	testutil.WaitFor(t, 10*time.Second, "edge to reconnect to the relay and reserve again", func() bool {
		return edge.host.Connected(central.ident.ID) && slices.Contains(edge.host.Reservations(), central.ident.ID)
	})
	// The dialer may hold a stale circuit for a moment after the relay link dropped: the edge must
	// become reachable again, not necessarily on the first try.
	var lastErr error
	testutil.WaitFor(t, 15*time.Second, "a round trip through the relay after re-reservation", func() bool {
		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer rcancel()
		_, lastErr = roundTrip(rctx, ncb, edge, []byte("after the relay link dropped"))
		return lastErr == nil
	})
}

// Without a reservation the relay cannot reach the edge, so the dial fails: the relayed path in the
// test above is real, not a direct connection in disguise.
func TestEdgeWithoutReservationIsUnreachable(t *testing.T) {
	f := newFed(t)
	f.start("central", RoleCentral, func(c *Config) { c.Relay = true })
	edge := f.start("edge", RoleEdge, func(c *Config) { c.ListenAddrs = nil })
	ncb := f.start("ncb", RoleNCB, nil)
	echo(t, edge)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := roundTrip(ctx, ncb, edge, []byte("hello")); err == nil {
		t.Fatal("reached an edge that holds no reservation and listens nowhere")
	}
}

func TestRosterACL(t *testing.T) {
	f := newFed(t)
	member := newTestIdentity(t)
	other := newTestIdentity(t)
	outsider := newTestIdentity(t)
	roster, err := NewRoster(f.rootPub)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []peer.ID{member.ID, other.ID} {
		se, err := SignEntry(f.rootPriv, Entry{PeerID: id, Name: []string{"m", "o"}[i], Role: RoleEdge, Shards: []string{"asia"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := roster.Add(se); err != nil {
			t.Fatal(err)
		}
	}
	acl := rosterACL{roster}
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/1")
	for _, tc := range []struct {
		name      string
		got, want bool
	}{
		{"member reserves", acl.AllowReserve(member.ID, addr), true},
		{"outsider reserves", acl.AllowReserve(outsider.ID, addr), false},
		{"member to member", acl.AllowConnect(member.ID, addr, other.ID), true},
		{"outsider to member", acl.AllowConnect(outsider.ID, addr, member.ID), false},
		{"member to outsider", acl.AllowConnect(member.ID, addr, outsider.ID), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
