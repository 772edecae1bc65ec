// Package transport will own each node's libp2p host: its Ed25519 identity, the roster-checking
// connection gater, and the adapters that carry raft (raft.StreamLayer) and memberlist
// (memberlist.NodeAwareTransport) over libp2p streams. It must not import node or replication.
//
// This version holds only the registry of protocol ids, so that every use of the wire is named in one
// place from the start; one-node federations (fedarms dev, and agents of this version) keep raft on an
// in-memory transport and need no network between nodes.
package transport

// Protocol ids, one per use of a libp2p stream. The version suffix changes when a wire format does.
const (
	ProtoRaft         = "/fedarms/raft/1"
	ProtoGossipPacket = "/fedarms/gossip/packet/1"
	ProtoGossipStream = "/fedarms/gossip/stream/1"
	ProtoMessage      = "/fedarms/msg/1"
	ProtoSearch       = "/fedarms/search/1"
	ProtoSnapshot     = "/fedarms/snapshot/1"
)

// Protocols lists every protocol id, for the host to register and for tests to check uniqueness.
var Protocols = []string{ProtoRaft, ProtoGossipPacket, ProtoGossipStream, ProtoMessage, ProtoSearch, ProtoSnapshot}
