package replication

import (
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Follower is how far a follower's log reaches, as this node heard it while leading the group.
type Follower struct {
	// Address is the follower's raft address the answer came from.
	Address raft.ServerAddress
	// LastLog is the last log index the follower reported holding.
	LastLog uint64
	// Heard is when that answer arrived (wall clock).
	Heard time.Time
	// FailingSince is when calls to it started failing after its last answer; zero while they
	// succeed.
	FailingSince time.Time
}

// followers keeps what the leader hears back from each follower. hashicorp/raft keeps its
// followers' match indexes to itself, yet a new central member may only be promoted to voter once
// its log has caught up (a voter far behind would make every commit wait on it, or cost the group
// its quorum). Every AppendEntries answer carries the follower's last log index, and the
// heartbeats (several a second, to non-voters too) go through the transport's synchronous
// AppendEntries, so reading the answers there is enough: no change to raft, no extra RPC.
type followers struct {
	mu   sync.Mutex
	byID map[raft.ServerID]Follower // guarded by mu
	// applied reads what a member last reported of its own applied index (voters.go); nil when
	// the node has no such reports for the group.
	applied AppliedReport // guarded by mu
}

func (f *followers) setApplied(fn AppliedReport) {
	f.mu.Lock()
	f.applied = fn
	f.mu.Unlock()
}

func (f *followers) appliedReport() AppliedReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *followers) heard(id raft.ServerID, addr raft.ServerAddress, lastLog uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byID == nil {
		f.byID = map[raft.ServerID]Follower{}
	}
	f.byID[id] = Follower{Address: addr, LastLog: lastLog, Heard: time.Now()}
}

// failed records a call to the follower that got no answer.
func (f *followers) failed(id raft.ServerID, addr raft.ServerAddress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byID == nil {
		f.byID = map[raft.ServerID]Follower{}
	}
	p := f.byID[id]
	if p.Address != addr {
		p = Follower{Address: addr}
	}
	if p.FailingSince.IsZero() {
		p.FailingSince = time.Now()
	}
	f.byID[id] = p
}

func (f *followers) get(id raft.ServerID) (Follower, bool) {
	if f == nil {
		return Follower{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.byID[id]
	return p, ok
}

// progressTransport is a raft transport that tells followers what the answers to its
// AppendEntries and InstallSnapshot calls said. Everything else passes through.
type progressTransport struct {
	raft.Transport
	f *followers
}

// AppendEntries sends the RPC and keeps the follower's last log index from its answer. A refusal
// (a log that does not match yet) still reports the follower's last index.
func (t *progressTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.Transport.AppendEntries(id, target, args, resp)
	switch {
	case err != nil:
		t.f.failed(id, target)
	case resp.Term == args.Term:
		t.f.heard(id, target, resp.LastLog)
	}
	return err
}

// InstallSnapshot sends the snapshot; once the follower took it, its log reaches the snapshot's
// last index.
func (t *progressTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	err := t.Transport.InstallSnapshot(id, target, args, resp, data)
	if err == nil && resp.Success {
		t.f.heard(id, target, args.LastLogIndex)
	}
	return err
}

// Close closes the transport underneath when it can be closed.
func (t *progressTransport) Close() error {
	if c, ok := t.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// progressPreVoteTransport is progressTransport over a transport that supports pre-vote: raft
// looks for the interface on the transport it is given, so the wrapper must offer it exactly when
// the transport underneath does.
type progressPreVoteTransport struct {
	*progressTransport
	pv raft.WithPreVote
}

// RequestPreVote passes the pre-vote through.
func (t progressPreVoteTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.pv.RequestPreVote(id, target, args, resp)
}

// withProgress wraps trans so that f hears its followers' answers.
func withProgress(trans raft.Transport, f *followers) raft.Transport {
	pt := &progressTransport{Transport: trans, f: f}
	if pv, ok := trans.(raft.WithPreVote); ok {
		return progressPreVoteTransport{progressTransport: pt, pv: pv}
	}
	return pt
}
