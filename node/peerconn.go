package node

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// How this node reaches a member right now, as GET /v1/cluster/members and the
// fedarms_peer_connections gauge report it. An edge behind NAT is first reached through a central
// relay; "direct" after hole punching (or a plain dial) shows the relay is no longer in the path.
const (
	ConnDirect  = "direct"  // at least one connection that is not a relay circuit
	ConnRelayed = "relayed" // connections only through a circuit relay
	ConnNone    = "none"    // no open connection
)

// connKind classifies the remote addresses of the open connections to one peer. Any direct
// connection wins: libp2p opens new streams on a direct connection in preference to a relayed one,
// so the relay carries nothing new once a direct path exists.
func connKind(remotes []ma.Multiaddr) string {
	if len(remotes) == 0 {
		return ConnNone
	}
	for _, a := range remotes {
		if !isCircuit(a) {
			return ConnDirect
		}
	}
	return ConnRelayed
}

// isCircuit reports whether a connection's remote address runs through a circuit relay.
func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// peerConn says how this node is connected to p now, with the remote address of every connection
// (sorted, so the answer is stable between calls).
func (f *fed) peerConn(p peer.ID) (string, []string) {
	conns := f.host.P2P().Network().ConnsToPeer(p)
	remotes := make([]ma.Multiaddr, 0, len(conns))
	addrs := make([]string, 0, len(conns))
	for _, c := range conns {
		remotes = append(remotes, c.RemoteMultiaddr())
		addrs = append(addrs, c.RemoteMultiaddr().String())
	}
	slices.Sort(addrs)
	return connKind(remotes), addrs
}
