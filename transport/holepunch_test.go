package transport

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// fakeConn is the little of a connection relayedBefore reads.
type fakeConn struct {
	network.Conn
	name   string
	remote ma.Multiaddr
	peer   peer.ID
	opened time.Time
}

func (c fakeConn) RemoteMultiaddr() ma.Multiaddr { return c.remote }
func (c fakeConn) RemotePeer() peer.ID           { return c.peer }
func (c fakeConn) Stat() network.ConnStats {
	return network.ConnStats{Stats: network.Stats{Opened: c.opened}}
}

// Only relayed connections opened before hole punching was ready, to a peer not yet reached
// directly, are closed: a later relayed connection is being punched by libp2p already, and a peer
// reached directly has nothing to gain.
func TestRelayedBefore(t *testing.T) {
	ready := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	early, late := ready.Add(-500*time.Millisecond), ready.Add(time.Millisecond)
	relay := "/ip6/3fff:77:1::1/tcp/4001/p2p/12D3KooWNRuGk2d4dkNpgTSzi21jGsvMPh8gQb26iAi9WYsZqCwF/p2p-circuit"
	direct := map[peer.ID]bool{"punched": true}
	conns := []network.Conn{
		fakeConn{name: "early relayed", remote: ma.StringCast(relay), peer: "edge-b", opened: early},
		fakeConn{name: "late relayed", remote: ma.StringCast(relay), peer: "edge-c", opened: late},
		fakeConn{name: "early direct", remote: ma.StringCast("/ip6/3fff:77:1::1/tcp/4001"), peer: "hub", opened: early},
		fakeConn{name: "early relayed, peer already direct", remote: ma.StringCast(relay), peer: "punched", opened: early},
		fakeConn{name: "relayed at the instant of readiness", remote: ma.StringCast(relay), peer: "edge-d", opened: ready},
	}
	var got []string
	for _, c := range relayedBefore(conns, ready, func(p peer.ID) bool { return direct[p] }) {
		got = append(got, c.(fakeConn).name)
	}
	if want := []string{"early relayed"}; !slices.Equal(got, want) {
		t.Fatalf("closed %q, want %q", got, want)
	}
}

func TestIsRelayed(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"/ip4/127.0.0.1/tcp/4001", false},
		{"/ip4/10.0.0.1/udp/4001/quic-v1/p2p/12D3KooWNRuGk2d4dkNpgTSzi21jGsvMPh8gQb26iAi9WYsZqCwF", false},
		{"/ip4/10.0.0.1/udp/4001/quic-v1/p2p/12D3KooWNRuGk2d4dkNpgTSzi21jGsvMPh8gQb26iAi9WYsZqCwF/p2p-circuit", true},
	} {
		if got := isRelayed(ma.StringCast(tc.addr)); got != tc.want {
			t.Errorf("isRelayed(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
