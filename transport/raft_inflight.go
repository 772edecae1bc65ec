package transport

import "github.com/libp2p/go-libp2p/core/peer"

// A leader's node restarts the replication to a member it took for away (node/resume.go). On a full
// thin link that guess is often wrong while a snapshot is on its way, and a restart then sends the
// whole snapshot again beside the first copy. So the layer counts the InstallSnapshots it is
// sending per peer on ProtoRaftResume, from the request to the end of the data (or the stream's
// end), and the node asks before it restarts.

// beginSend records that r started sending an InstallSnapshot's data.
func (l *RaftLayer) beginSend(r *resumeSender) {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if r.flying {
		return
	}
	if l.sending == nil {
		l.sending = map[peer.ID]int{}
	}
	r.flying = true
	l.sending[r.to]++
}

// endSend records that r's InstallSnapshot ended, whichever way; more than once is harmless.
func (l *RaftLayer) endSend(r *resumeSender) {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if !r.flying {
		return
	}
	r.flying = false
	if l.sending[r.to]--; l.sending[r.to] <= 0 {
		delete(l.sending, r.to)
	}
}

// SendingSnapshot reports whether this layer is sending an InstallSnapshot to p right now (on
// ProtoRaftResume, the protocol members of this release speak; older protocols are not watched).
func (l *RaftLayer) SendingSnapshot(p peer.ID) bool {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	return l.sending[p] > 0
}

// SendingSnapshot reports whether group's layer on this host is sending an InstallSnapshot to p;
// false for a group the host does not run.
func (h *Host) SendingSnapshot(group string, p peer.ID) bool {
	h.raftMu.Lock()
	l := h.raftGroups[group]
	h.raftMu.Unlock()
	return l != nil && l.SendingSnapshot(p)
}

// Close ends the stream, and the snapshot it was sending with it.
func (r *resumeSender) Close() error {
	r.l.endSend(r)
	return r.Stream.Close()
}

// Reset aborts the stream, and the snapshot it was sending with it.
func (r *resumeSender) Reset() error {
	r.l.endSend(r)
	return r.Stream.Reset()
}
