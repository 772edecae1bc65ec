package replication

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// members is what a shard group and the control group share: leadership and membership of one
// raft group. Both embed it; errors start with its name ("shard europe", "control").
type members struct {
	name string
	raft *raft.Raft
	// followers hears what the followers' answers say of their logs while this node leads.
	followers *followers
}

// WaitForLeader blocks until the group has a leader or ctx ends.
func (m *members) WaitForLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if addr, _ := m.raft.LeaderWithID(); addr != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no leader: %w", m.name, ctx.Err())
		case <-t.C:
		}
	}
}

// IsLeader reports whether this node leads the group now.
// Term is the raft term this node is in.
func (m *members) Term() uint64 {
	t, _ := strconv.ParseUint(m.raft.Stats()["term"], 10, 64)
	return t
}

func (m *members) IsLeader() bool { return m.raft.State() == raft.Leader }

// Leader is the current leader's server id and address, empty when unknown.
func (m *members) Leader() (raft.ServerID, raft.ServerAddress) {
	addr, id := m.raft.LeaderWithID()
	return id, addr
}

// AddNonvoter makes a node a non-voting member of the group (leader only). It is idempotent: an
// existing member keeps its suffrage.
func (m *members) AddNonvoter(id raft.ServerID, addr raft.ServerAddress) error {
	servers, err := m.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if s.ID == id && s.Address == addr {
			return nil
		}
		if s.ID == id && s.Suffrage == raft.Voter {
			// raft would move the vote to the new address at once: a fresh, empty log voting in
			// place of the old one, which may have held entries only it and one other had. The
			// old voter is removed first (RemoveServer); the new one then joins as a non-voter.
			return fmt.Errorf("%s: add non-voter %s at %s: a voter of that id is at %s", m.name, id, addr, s.Address)
		}
	}
	if err := m.raft.AddNonvoter(id, addr, 0, 10*time.Second).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return fmt.Errorf("%s: %w", m.name, ErrNotLeader)
		}
		return fmt.Errorf("%s: add non-voter %s: %w", m.name, id, err)
	}
	return nil
}

// RemoveServer takes a node out of the group (leader only).
func (m *members) RemoveServer(id raft.ServerID) error {
	if err := m.raft.RemoveServer(id, 0, 10*time.Second).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return fmt.Errorf("%s: %w", m.name, ErrNotLeader)
		}
		return fmt.Errorf("%s: remove %s: %w", m.name, id, err)
	}
	return nil
}

// Servers is the group's current raft configuration.
func (m *members) Servers() ([]raft.Server, error) {
	cf := m.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, err
	}
	return cf.Configuration().Servers, nil
}

// Snapshot asks raft for a snapshot now (operators and tests; raft also takes them by threshold).
func (m *members) Snapshot() error { return m.raft.Snapshot().Error() }

// apply orders data through raft and waits until it is committed and applied here (ctx's deadline
// bounds the wait, 30 s without one), mapping raft's errors to ErrNotLeader and ErrClosed.
func (m *members) apply(ctx context.Context, data []byte) (raft.ApplyFuture, error) {
	return m.applyUnless(ctx, data, nil)
}

// applyUnless is apply that also gives up waiting when interrupt (checked every 50 ms) returns an
// error, or when ctx ends: a halted shard will not apply the entry here until it resumes. The
// entry stays in the log either way.
func (m *members) applyUnless(ctx context.Context, data []byte, interrupt func() error) (raft.ApplyFuture, error) {
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := m.raft.Apply(data, timeout)
	if interrupt != nil {
		done := make(chan struct{})
		go func() { _ = f.Error(); close(done) }()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-ctx.Done():
				return nil, fmt.Errorf("%s: waiting for the write to be applied: %w", m.name, ctx.Err())
			case <-t.C:
				if err := interrupt(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
			errors.Is(err, raft.ErrEnqueueTimeout):
			return nil, fmt.Errorf("%s: %w: %v", m.name, ErrNotLeader, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%s: apply: %w", m.name, err)
	}
	return f, nil
}

// shutdown stops raft, closes its transport when it can be closed, then the stores in order, and
// returns the first error.
func (m *members) shutdown(trans raft.Transport, stores ...func() error) error {
	err := m.raft.Shutdown().Error()
	if c, ok := trans.(raft.WithClose); ok {
		_ = c.Close()
	}
	for _, closeStore := range stores {
		if e := closeStore(); err == nil {
			err = e
		}
	}
	return err
}
