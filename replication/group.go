package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/seal"
)

// Sentinel errors; the API maps them with errors.Is.
var (
	// ErrNotLeader means this node cannot order the write now (no leader, or leadership moved).
	ErrNotLeader = errors.New("no raft leader for this shard on this node")
	// ErrClosed means the group was closed.
	ErrClosed = errors.New("shard group closed")
	// ErrHalted means the shard has stopped applying entries on this node (see Group.Halted): its
	// writes go to another node, or wait until it resumes.
	ErrHalted = errors.New("shard halted on this node")
)

// GroupConfig configures one shard's raft group on this node.
type GroupConfig struct {
	Shard string
	Dir   string // holds raft.db, state.db and snapshots/
	// Key seals the group's log entries and snapshot files (and a shard's records) at rest; nil
	// in a plain data dir.
	Key     *seal.Key
	LocalID string // this node's raft server id
	// Transport carries raft between nodes; nil gives an in-memory transport (a one-node group).
	Transport raft.Transport
	// Bootstrap starts the group when it has no state yet: with Voters as its initial voters, or
	// with this node as the single voter when Voters is empty. Every initial voter bootstraps with
	// the same Voters; nodes that join later do not bootstrap and are added by the leader.
	Bootstrap         bool
	Voters            []raft.Server
	SnapshotThreshold uint64
	TrailingLogs      uint64
	Observer          Observer
	Logger            *slog.Logger
	// Tune, when set, adjusts raft's config after the defaults (tests use shorter timeouts).
	Tune func(*raft.Config)
	// decode replaces Command.UnmarshalBinary in the FSM (tests emulate another release with it).
	decode func(*Command, []byte) error
	// retryMin and retryMax bound the backoff of a halted shard's writes (tests shorten them).
	retryMin, retryMax time.Duration
	// noSync skips fsync in the log store and state (the scale run's non-voters only).
	noSync bool
}

// Group is one shard's raft group on this node.
type Group struct {
	members
	shard   string
	localID raft.ServerID
	raft    *raft.Raft
	logs    *LogStore
	state   *State
	halt    *halter
	dir     string // for backups (CopyState), which read its snapshots' configurations
	// transferring is set while a leadership transfer of a halted shard runs.
	transferring atomic.Bool
	// format is the command format this node writes when it orders a command (0: format 1).
	format atomic.Uint32
	trans  raft.Transport
	log    *slog.Logger
}

// OpenGroup opens (or creates) the shard's stores under cfg.Dir and starts its raft.
func OpenGroup(cfg GroupConfig) (*Group, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	lg := cfg.Logger.With("shard", cfg.Shard)
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("shard %s: %w", cfg.Shard, err)
	}
	logs, err := OpenLogStore(filepath.Join(cfg.Dir, "raft.db"), LogStoreOptions{Key: cfg.Key, NoSync: cfg.noSync})
	if err != nil {
		return nil, err
	}
	state, err := openState(filepath.Join(cfg.Dir, "state.db"), cfg.Key, cfg.noSync)
	if err != nil {
		logs.Close()
		return nil, err
	}
	g := &Group{shard: cfg.Shard, localID: raft.ServerID(cfg.LocalID), logs: logs, state: state, halt: newHalter(), dir: cfg.Dir, log: lg}
	fail := func(err error) (*Group, error) {
		state.Close()
		logs.Close()
		return nil, fmt.Errorf("shard %s: %w", cfg.Shard, err)
	}
	f := &fsm{shard: cfg.Shard, state: state, observer: cfg.Observer, log: lg, halt: g.halt, decode: cfg.decode,
		retryMin: cfg.retryMin, retryMax: cfg.retryMax, logs: logs}
	if f.retryMin <= 0 {
		f.retryMin = 100 * time.Millisecond
	}
	if f.retryMax <= 0 {
		f.retryMax = 10 * time.Second
	}
	f.retryMax = max(f.retryMax, f.retryMin)
	r, trans, fl, err := startRaft(raftSetup{dir: cfg.Dir, key: cfg.Key, localID: cfg.LocalID, transport: cfg.Transport,
		bootstrap: cfg.Bootstrap, voters: cfg.Voters, snapshotThreshold: cfg.SnapshotThreshold,
		trailingLogs: cfg.TrailingLogs, tune: cfg.Tune, batchApply: true}, lg, f, logs)
	if err != nil {
		return fail(err)
	}
	g.trans = trans
	g.raft = r
	g.members = members{name: "shard " + cfg.Shard, raft: r, followers: fl}
	g.halt.setHandOff(g.handOffLeadership)
	return g, nil
}

// handOffLeadership moves leadership of a halted shard to another voter, so writes go on there
// while this node cannot apply them. It returns at once; one transfer runs at a time.
func (g *Group) handOffLeadership() {
	if !g.IsLeader() || !g.transferring.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer g.transferring.Store(false)
		if err := g.raft.LeadershipTransfer().Error(); err != nil {
			g.log.Warn("halted shard could not hand leadership to another voter", "error", err)
			return
		}
		g.log.Info("halted shard handed leadership to another voter")
	}()
}

// SetCommandFormat sets the command format this node writes when it orders a command: format 1
// until the federation has finalized the upgrade to a newer one (every holder of the shard must
// read it, or it halts there). A format this release does not write is refused.
func (g *Group) SetCommandFormat(f byte) error {
	if f < CommandFormatOldest || f > CommandFormatNewest {
		return fmt.Errorf("shard %s: command format %d: this release writes formats %d to %d", g.shard, f, CommandFormatOldest, CommandFormatNewest)
	}
	if old := byte(g.format.Swap(uint32(f))); old != f && !(old == 0 && f == CommandFormatLegacy) {
		g.log.Info("command format set", "format", f)
	}
	return nil
}

// CommandFormat is the command format this node writes for the shard.
func (g *Group) CommandFormat() byte {
	if f := byte(g.format.Load()); f != 0 {
		return f
	}
	return CommandFormatLegacy
}

// Halted reports whether the shard has stopped applying entries on this node, and why. Reads are
// still served from the copy as it was; writes are refused with ErrHalted.
func (g *Group) Halted() (Halt, bool) { return g.halt.get() }

// Shard is the group's shard name.
func (g *Group) Shard() string { return g.shard }

// State is the shard's state file.
func (g *Group) State() *State { return g.state }

// Apply orders a command through raft and waits until it is committed and applied here.
func (g *Group) Apply(ctx context.Context, cmd *Command) (Result, error) {
	if h, ok := g.halt.get(); ok {
		return Result{}, fmt.Errorf("shard %s: %w: %s", g.shard, ErrHalted, h.Reason)
	}
	data, err := cmd.MarshalFormat(g.CommandFormat())
	if err != nil {
		return Result{}, err
	}
	f, err := g.applyUnless(ctx, data, func() error {
		if h, ok := g.halt.get(); ok {
			return fmt.Errorf("shard %s: %w before the write was applied here (it is in the log and is applied where it can be; retry, an id that now exists answers conflict): %s", g.shard, ErrHalted, h.Reason)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	switch v := f.Response().(type) {
	case Result:
		v.Index = f.Index()
		return v, nil
	case error:
		return Result{}, v
	}
	return Result{}, fmt.Errorf("shard %s: unexpected apply response %T", g.shard, f.Response())
}

// WaitApplied blocks until this node's copy has applied index, or ctx ends.
func (g *Group) WaitApplied(ctx context.Context, index uint64) error {
	for g.state.Stats().AppliedIndex < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("shard %s: waiting for index %d: %w", g.shard, index, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// Status is what an operator needs to know of the group on this node.
type Status struct {
	Shard        string
	Role         string // voter or nonvoter
	Leader       string // leader's server id, empty when unknown
	AppliedIndex uint64
	Records      uint64
	Digest       Digest
	LastContact  time.Time // last contact with the leader; now when this node leads
	// CommitIndex is the highest index this node knows to be committed; CommitIndex-AppliedIndex is
	// how far its copy is behind what it has heard of.
	CommitIndex uint64
	// LastSnapshotIndex is the index of this node's latest snapshot (0: none yet).
	LastSnapshotIndex uint64
	// Halt is set while the shard has stopped applying entries on this node.
	Halt *Halt
}

// Freshness is what every search answer reports of the shard: its applied index and the last
// contact with its leader (now when this node leads). It is cheaper than Status. A halted copy is
// as fresh as the moment it halted, however recently the leader was heard.
func (g *Group) Freshness() (appliedIndex uint64, lastContact time.Time) {
	if g.raft.State() == raft.Leader {
		lastContact = time.Now()
	} else {
		lastContact = g.raft.LastContact()
	}
	if h, ok := g.halt.get(); ok && h.Since.Before(lastContact) {
		lastContact = h.Since
	}
	return g.state.Stats().AppliedIndex, lastContact
}

// Status reports the group's role, leader, applied index, records and digest.
func (g *Group) Status() Status {
	st := g.state.Stats()
	s := Status{Shard: g.shard, Role: "nonvoter", AppliedIndex: st.AppliedIndex, Records: st.Records, Digest: st.Digest}
	if h, ok := g.halt.get(); ok {
		s.Halt = &h
	}
	_, id := g.raft.LeaderWithID()
	s.Leader = string(id)
	stats := g.raft.Stats()
	s.CommitIndex, _ = strconv.ParseUint(stats["commit_index"], 10, 64)
	s.LastSnapshotIndex, _ = strconv.ParseUint(stats["last_snapshot_index"], 10, 64)
	if g.raft.State() == raft.Leader {
		s.LastContact = time.Now()
	} else {
		s.LastContact = g.raft.LastContact()
	}
	if cf := g.raft.GetConfiguration(); cf.Error() == nil {
		for _, srv := range cf.Configuration().Servers {
			if srv.ID == g.localID && srv.Suffrage == raft.Voter {
				s.Role = "voter"
			}
		}
	}
	return s
}

// Close shuts raft down and closes the stores. A halted FSM is told first: raft's shutdown waits
// for the FSM goroutine, which would otherwise wait for the disk.
func (g *Group) Close() error {
	g.halt.close()
	return g.shutdown(g.trans, g.state.Close, g.logs.Close)
}

// OrderEncoded orders bytes as a log entry exactly as given, without decoding them, and waits
// until this node applied it or halted on it (the entry is in the log either way). It is a seam
// for drills and tests: what a leader of a newer release, or one whose disk damaged an entry,
// puts in the log.
func (g *Group) OrderEncoded(ctx context.Context, data []byte) error {
	_, err := g.applyUnless(ctx, data, func() error {
		if _, ok := g.halt.get(); ok {
			return errOrderedHalted
		}
		return nil
	})
	if errors.Is(err, errOrderedHalted) {
		return nil
	}
	return err
}

var errOrderedHalted = errors.New("halted on the entry")
