package transport

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A fed holder takes its shard over ProtoFeed, outside raft, and on a thin link that copy is the
// bulk of what the link carries. So replication shares one budget per node whatever protocol it
// travels on: a feed stream takes its bytes from the same bandwidthCap as the host's raft streams
// (the node's [replication] max_bandwidth, each way), and the side that answers paces its writes
// toward the peer with the same per-peer pace as raft streams toward it (the peer's announced
// cap, raft_pace.go). Raft and the feed together then stay under the cap, and everything that
// passes no cap (hits, receipts, decisions, health) finds the rest of the link.

// PaceReplication wraps a replication stream that is not raft (a feed stream) with p in the host's
// bandwidth cap and the pace toward p. Deadlines set on the result are idle times, as on a raft
// stream: only a stream on which nothing moves for that long times out.
func (h *Host) PaceReplication(s network.Stream, p peer.ID) network.Stream {
	return &raftWire{Stream: s, cap: h.raftCap, pace: h.raftPaceTo(p)}
}
