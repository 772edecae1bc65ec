package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/seal"
)

// ControlConfig configures the control group on this node; its fields mean what GroupConfig's do.
type ControlConfig struct {
	Dir string // holds raft.db, control.db and snapshots/
	// Key seals the group's log entries and snapshot files (and a shard's records) at rest; nil
	// in a plain data dir.
	Key     *seal.Key
	LocalID string // this node's raft server id
	// Transport carries raft between nodes; nil gives an in-memory transport (a one-node group).
	Transport raft.Transport
	// Bootstrap starts the group when it has no state yet, with Voters (or this node alone).
	Bootstrap         bool
	Voters            []raft.Server
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// Verifier judges every blob; required (a control group that accepts anything is refused).
	Verifier ControlVerifier
	Observer ControlObserver
	Logger   *slog.Logger
	Tune     func(*raft.Config)
}

// Control is the federation's control raft group on this node: it carries admissions and
// revocations of members, signed by the root key, in one order for every node.
type Control struct {
	members
	localID  raft.ServerID
	raft     *raft.Raft
	logs     *LogStore
	store    *controlStore
	trans    raft.Transport
	verifier ControlVerifier
	halt     *halter
}

// OpenControl opens (or creates) the control group's stores under cfg.Dir and starts its raft.
func OpenControl(cfg ControlConfig) (*Control, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("control: a verifier is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	lg := cfg.Logger.With("group", "control")
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	logs, err := OpenLogStore(filepath.Join(cfg.Dir, "raft.db"), LogStoreOptions{Key: cfg.Key})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	store, err := openControlStore(controlStatePath(cfg.Dir))
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	fail := func(err error) (*Control, error) {
		store.close()
		logs.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	f := newControlFSM(store, cfg.Verifier, cfg.Observer, lg)
	halt := f.halt
	r, trans, fl, err := startRaft(raftSetup{dir: cfg.Dir, key: cfg.Key, localID: cfg.LocalID, transport: cfg.Transport,
		bootstrap: cfg.Bootstrap, voters: cfg.Voters, snapshotThreshold: cfg.SnapshotThreshold,
		trailingLogs: cfg.TrailingLogs, tune: cfg.Tune}, lg, f, logs)
	if err != nil {
		return fail(err)
	}
	c := &Control{members: members{name: "control", raft: r, followers: fl}, localID: raft.ServerID(cfg.LocalID), raft: r, logs: logs, store: store,
		trans: trans, verifier: cfg.Verifier, halt: halt}
	halt.setHandOff(func() {
		if r.State() == raft.Leader {
			go r.LeadershipTransfer() // from its own goroutine: the FSM's must not wait on raft
		}
	})
	return c, nil
}

// Admit orders the admission of a member whose signed entry is blob.
func (c *Control) Admit(ctx context.Context, blob []byte) (ControlResult, error) {
	return c.Apply(ctx, ControlCommand{Op: ControlAdmit, Blob: blob})
}

// Revoke orders the revocation a signed revocation blob states.
func (c *Control) Revoke(ctx context.Context, blob []byte) (ControlResult, error) {
	return c.Apply(ctx, ControlCommand{Op: ControlRevoke, Blob: blob})
}

// Apply orders cmd through raft (leader only) and waits until it is committed and applied here.
// A command the state would refuse is refused before it reaches the log; every replica checks it
// again on apply.
func (c *Control) Apply(ctx context.Context, cmd ControlCommand) (ControlResult, error) {
	cmd.Rules = controlRules // whatever a forwarder said: this leader orders under its own rules
	if cmd.Op == ControlFinalize {
		cmd.Format = controlFormatUpgrade
	}
	if cmd.Format > ControlFormatNewest {
		return ControlResult{}, fmt.Errorf("%w: control format %d; this release orders formats up to %d", ErrControlRefused, cmd.Format, ControlFormatNewest)
	}
	if _, _, err := c.store.decide(c.verifier, cmd); err != nil {
		return ControlResult{}, err
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return ControlResult{}, fmt.Errorf("control: %w", err)
	}
	f, err := c.apply(ctx, data)
	if err != nil {
		return ControlResult{}, err
	}
	switch v := f.Response().(type) {
	case ControlResult:
		return v, nil
	case error:
		return ControlResult{}, v
	}
	return ControlResult{}, fmt.Errorf("control: unexpected apply response %T", f.Response())
}

// State is a copy of the current control state.
func (c *Control) State() ControlState { return c.store.state() }

// Member returns an admitted member by peer id.
func (c *Control) Member(peerID string) (ControlMember, bool) {
	c.store.mu.RLock()
	defer c.store.mu.RUnlock()
	m, ok := c.store.members[peerID]
	return m, ok
}

// IsRevoked reports whether peerID was revoked.
func (c *Control) IsRevoked(peerID string) bool {
	c.store.mu.RLock()
	defer c.store.mu.RUnlock()
	_, ok := c.store.revoked[peerID]
	return ok
}

// AppliedIndex is the last control log index applied here.
func (c *Control) AppliedIndex() uint64 { return c.store.appliedIndex() }

// WaitApplied blocks until this node has applied index, or ctx ends.
func (c *Control) WaitApplied(ctx context.Context, index uint64) error {
	for c.store.appliedIndex() < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("control: waiting for index %d: %w", index, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Halted reports why the control group stopped applying entries on this node (its state file
// cannot be written), and since when.
func (c *Control) Halted() (Halt, bool) { return c.halt.get() }

// InjectWriteFaults makes the next n writes of the control state fail with err, as a full disk
// would: a seam for fault tests.
func (c *Control) InjectWriteFaults(n int, err error) { c.store.faults.inject(n, err) }

// Close shuts raft down and closes the stores. A halted FSM is told first: raft's shutdown waits
// for the FSM goroutine, which would otherwise wait for the disk.
func (c *Control) Close() error {
	c.halt.close()
	return c.shutdown(c.trans, c.store.close, c.logs.Close)
}
