// Package transport owns each node's libp2p host and everything that crosses it: the node's
// persisted Ed25519 identity, the federation roster (entries signed by the root key) and the
// connection gater that admits only roster members, the circuit relay on central nodes and relay
// reservations on NATed edges, the registry of protocol ids, and the adapters that carry raft
// (RaftLayer, a raft.StreamLayer) and memberlist (GossipTransport, a memberlist.NodeAwareTransport)
// over libp2p streams, plus the health blob members gossip and a fault switch for tests.
//
// It must not import node, replication or any other fedarms package: they build on it, and the
// roster's authority (the control raft group) lives in replication, which feeds Roster.Add and
// Roster.Remove. Its tests may import internal/testutil alone, which imports no fedarms package.
// See DESIGN.md for why it is built this way.
package transport

// Protocol ids, one per use of a libp2p stream. The version suffix changes when a wire format does.
const (
	// ProtoRaft carries raft's RPCs as hashicorp/raft's NetworkTransport writes them; still served
	// and dialled toward members of a release before ProtoRaftZstd.
	ProtoRaft = "/fedarms/raft/1"
	// ProtoRaftZstd carries the same bytes in zstd frames (raft_zstd.go).
	ProtoRaftZstd = "/fedarms/raft/2"
	// ProtoRaftResume is ProtoRaftZstd with InstallSnapshot's data resumable (raft_resume.go);
	// offered first.
	ProtoRaftResume = "/fedarms/raft/3"
	// ProtoRaftCap asks a member the rate it receives raft at, so that raft streams toward it are
	// paced on the sending side (raft_pace.go). A member of an earlier release does not speak it:
	// its streams go unpaced.
	ProtoRaftCap      = "/fedarms/raft-cap/1"
	ProtoGossipPacket = "/fedarms/gossip/packet/1"
	ProtoGossipStream = "/fedarms/gossip/stream/1"
	ProtoMessage      = "/fedarms/msg/1"
	ProtoSearch       = "/fedarms/search/1"
	ProtoSnapshot     = "/fedarms/snapshot/1"
	// ProtoApply forwards a write to the leader of its shard.
	ProtoApply = "/fedarms/apply/1"
	// ProtoControl forwards an admission or revocation to the control group's leader.
	ProtoControl = "/fedarms/control/1"
	// ProtoLate hands a search to the central nodes for its late window, and a late hit they make
	// back to the node that searched. A member of an earlier release does not speak it: the caller
	// skips it.
	ProtoLate = "/fedarms/late/1"
	// ProtoFeed serves a shard's committed entries, checkpoints and state copies to fed holders
	// (replication/feed_wire.go). A member of a release before it does not speak it; a fed holder
	// skips such a source.
	ProtoFeed = "/fedarms/feed/1"
)

// Protocols lists every protocol id, for the host to register and for tests to check uniqueness.
var Protocols = []string{ProtoRaft, ProtoRaftZstd, ProtoRaftResume, ProtoRaftCap, ProtoGossipPacket, ProtoGossipStream, ProtoMessage, ProtoSearch, ProtoSnapshot, ProtoApply, ProtoControl, ProtoLate, ProtoFeed}
