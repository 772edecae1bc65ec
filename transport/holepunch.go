package transport

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// How often the host looks whether libp2p's hole punching service has started: first after
// punchPollFirst, then doubling up to punchPollMax (libp2p's own service polls at the same pace).
const (
	punchPollFirst = 250 * time.Millisecond
	punchPollMax   = 5 * time.Second
)

// reconnectWhenPunchReady closes the relayed connections that were opened before hole punching
// could act on them, once it can.
//
// libp2p's hole punching (DCUtR) starts only when a connection arrives through a relay, and only
// once the host knows a public address of its own (its NAT's outside address, which identify
// reports when a central node sees it). An edge dials the central relays and, through them, the
// other members as soon as it starts: the first relayed connections arrive a few hundred
// milliseconds before the service is ready, are never punched, and stay relayed for good because
// nothing closes a member's connection. Closing those once lets the next use dial through the
// relay again, and that connection is upgraded to a direct one where the NATs allow it. Both
// sides do this when their own service starts, so whichever of two edges is ready last makes the
// pair try again with both ready.
func (h *Host) reconnectWhenPunchReady() {
	defer h.wg.Done()
	wait := punchPollFirst
	t := time.NewTimer(wait)
	defer t.Stop()
	for !slices.Contains(h.p2p.Mux().Protocols(), holepunch.Protocol) {
		select {
		case <-h.closed:
			return
		case <-t.C:
		}
		wait = min(2*wait, punchPollMax)
		t.Reset(wait)
	}
	readyAt := time.Now()
	stale := relayedBefore(h.p2p.Network().Conns(), readyAt, h.hasDirectConn)
	h.log.Info("hole punching ready", "relayed_to_reconnect", len(stale))
	for _, c := range stale {
		h.log.Debug("closing relayed connection opened before hole punching was ready", "peer", c.RemotePeer(),
			"remote", c.RemoteMultiaddr())
		_ = c.Close()
	}
}

// relayedBefore picks the connections that run through a relay, were opened before readyAt, and
// go to a peer that has no direct connection yet (hasDirect).
func relayedBefore(conns []network.Conn, readyAt time.Time, hasDirect func(peer.ID) bool) []network.Conn {
	var out []network.Conn
	for _, c := range conns {
		if !isRelayed(c.RemoteMultiaddr()) || !c.Stat().Opened.Before(readyAt) || hasDirect(c.RemotePeer()) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// hasDirectConn reports whether some connection to p does not run through a relay.
func (h *Host) hasDirectConn(p peer.ID) bool {
	for _, c := range h.p2p.Network().ConnsToPeer(p) {
		if !isRelayed(c.RemoteMultiaddr()) {
			return true
		}
	}
	return false
}

// isRelayed reports whether a connection's remote address is a circuit through a relay.
func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}
