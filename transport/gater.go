package transport

import (
	"context"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// rosterGater admits a connection only when the remote peer is in the roster (and, under test, the
// fault switch does not cut the pair). It is consulted before an outbound dial (by peer, then per
// address) and after the Noise handshake of every connection in either direction, when the remote
// peer id is authenticated; an inbound connection cannot be judged earlier because its peer id is
// unknown until then.
type rosterGater struct {
	self   peer.ID
	roster *Roster
	faults *Faults // nil outside tests
	log    *slog.Logger
}

var _ connmgr.ConnectionGater = (*rosterGater)(nil)

func (g *rosterGater) allowed(p peer.ID) bool {
	if !g.roster.Has(p) {
		return false
	}
	return g.faults == nil || !g.faults.Blocked(g.self, p)
}

// InterceptPeerDial refuses to dial a peer outside the roster.
func (g *rosterGater) InterceptPeerDial(p peer.ID) bool {
	ok := g.allowed(p)
	if !ok {
		g.log.Debug("dial refused", "peer", p)
	}
	return ok
}

// InterceptAddrDial checks the peer again: the roster may have changed since the dial began.
func (g *rosterGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool {
	return g.allowed(p)
}

// InterceptAccept lets the handshake proceed unless this host is isolated; the peer is checked in
// InterceptSecured once Noise has authenticated it.
func (g *rosterGater) InterceptAccept(network.ConnMultiaddrs) bool {
	return g.faults == nil || !g.faults.Blocked(g.self, g.self)
}

// InterceptSecured refuses an authenticated connection, in either direction, from a non-member.
func (g *rosterGater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	ok := g.allowed(p)
	if !ok {
		level := slog.LevelDebug
		if dir == network.DirInbound && !g.roster.Has(p) {
			level = slog.LevelWarn // someone outside the federation knocked
		}
		g.log.Log(context.Background(), level, "connection refused", "peer", p, "direction", dir.String(),
			"remote", addrs.RemoteMultiaddr().String())
	}
	return ok
}

// InterceptUpgraded has nothing left to check.
func (g *rosterGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
