package transport

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// onRosterChange keeps the peerstore equal to the roster and disconnects revoked members.
func (h *Host) onRosterChange(c Change) {
	if c.Kind == Removed {
		id := c.Entry.PeerID
		h.closePeer(id)
		h.p2p.Peerstore().ClearAddrs(id)
		h.p2p.Peerstore().RemovePeer(id)
		h.log.Info("member revoked, disconnected", "peer", id, "name", c.Entry.Name)
	}
	h.syncAddrs()
	h.kickReserver()
}

// syncAddrs gives every member its roster addresses, plus a circuit address through each central
// relay for non-central members, so a member that can only dial out is still reachable. Addresses
// it set earlier that the roster no longer gives are expired; what identify learnt is left alone.
func (h *Host) syncAddrs() {
	entries := h.roster.List()
	ps := h.p2p.Peerstore()
	h.addrMu.Lock()
	defer h.addrMu.Unlock()
	want := map[peer.ID][]ma.Multiaddr{}
	for _, e := range entries {
		if e.PeerID == h.id {
			continue
		}
		addrs := e.AddrInfo().Addrs
		if e.Role != RoleCentral {
			for _, c := range entries {
				// Not through this node itself: such a dial can only fail, and failed dials count
				// against the connection rate and libp2p's black-hole detection.
				if c.Role == RoleCentral && c.PeerID != e.PeerID && c.PeerID != h.id {
					addrs = append(addrs, circuitAddrs(c)...)
				}
			}
		}
		want[e.PeerID] = addrs
	}
	for id, old := range h.lastAddrs {
		var gone []ma.Multiaddr
		for _, a := range old {
			if !slices.ContainsFunc(want[id], a.Equal) {
				gone = append(gone, a)
			}
		}
		if len(gone) > 0 {
			ps.SetAddrs(id, gone, 0)
		}
	}
	for id, addrs := range want {
		ps.SetAddrs(id, addrs, peerstore.PermanentAddrTTL)
	}
	h.lastAddrs = want
}
