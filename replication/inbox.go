package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/seal"
)

// The inbox group is one raft group among the central members (voters only, no non-voters) that
// orders what is stored for one recipient served by several nodes: the General Secretariat's
// inbox of hits, decisions and trace requests. Replication cannot read its entries (they are the
// node's notifications), so, like the control group, the FSM is a shell: the state lives in the
// node's own store (InboxState), which applies each committed entry idempotently and durably with
// the entry's index, and writes and merges snapshots. Its own raft log and snapshots are under the
// group's directory; its state is not, so a shard's snapshot size and the control state's stay
// what they were.

// InboxEntry is one committed command handed to the InboxState.
type InboxEntry struct {
	Index, Term uint64
	Data        []byte
}

// InboxState is the state the inbox group applies to; the node implements it over its hit store.
// ApplyInbox must be deterministic in the entries (no clock, no randomness): every replica reaches
// the same answer for each entry, which is what makes the first decision on a hit the same one on
// every central node.
type InboxState interface {
	// InboxApplied is the last index made durable by ApplyInbox or RestoreInbox.
	InboxApplied() uint64
	// ApplyInbox applies entries in order, in one durable write that records the last index, and
	// returns one result per entry. An error means nothing was written (the disk): the group
	// halts and tries again.
	ApplyInbox(entries []InboxEntry) ([]any, error)
	// SnapshotInbox returns a writer of everything applied up to now (at least up to
	// InboxApplied at the call); it may include later entries' effects: the state is a union,
	// merged again on restore.
	SnapshotInbox() (InboxSnapshot, error)
	// RestoreInbox merges a snapshot written by SnapshotInbox (at applied index index) into the
	// state and records index as applied when it is ahead.
	RestoreInbox(index uint64, r io.Reader) error
}

// InboxSnapshot writes a snapshot of the inbox state.
type InboxSnapshot interface {
	WriteTo(w io.Writer) (int64, error)
	Release()
}

// InboxConfig configures the inbox group on a central node; its fields mean what GroupConfig's do.
type InboxConfig struct {
	Dir string // holds raft.db and snapshots/
	// Key seals the group's log entries and snapshot files (and a shard's records) at rest; nil
	// in a plain data dir.
	Key       *seal.Key
	LocalID   string
	Transport raft.Transport
	Bootstrap bool
	Voters    []raft.Server
	// SnapshotThreshold and TrailingLogs default to 65,536 and 131,072 entries: a snapshot
	// writes the whole inbox (a hit is ~1 KB; a year's GS inbox is ~1,000,000 of them), so it is
	// taken rarely, and a central node away for a while catches up from the log.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	State             InboxState
	Logger            *slog.Logger
	Tune              func(*raft.Config)
}

// Inbox is the inbox group on this node.
type Inbox struct {
	members
	logs  *LogStore
	trans raft.Transport
	halt  *halter
}

// ErrInboxRefused is the answer to an entry the state refused as an item (it does not decode);
// every replica refuses it alike.
var ErrInboxRefused = errors.New("inbox entry refused")

// OpenInbox opens (or creates) the inbox group's log under cfg.Dir and starts its raft.
func OpenInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.State == nil {
		return nil, errors.New("inbox: a state is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 1 << 16
	}
	if cfg.TrailingLogs == 0 {
		cfg.TrailingLogs = 1 << 17
	}
	lg := cfg.Logger.With("group", "inbox")
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	logs, err := OpenLogStore(filepath.Join(cfg.Dir, "raft.db"), LogStoreOptions{Key: cfg.Key})
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	f := &inboxFSM{state: cfg.State, log: lg, halt: newHalter()}
	r, trans, fl, err := startRaft(raftSetup{dir: cfg.Dir, key: cfg.Key, localID: cfg.LocalID, transport: cfg.Transport,
		bootstrap: cfg.Bootstrap, voters: cfg.Voters, snapshotThreshold: cfg.SnapshotThreshold,
		trailingLogs: cfg.TrailingLogs, tune: cfg.Tune, batchApply: true}, lg, f, logs)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("inbox: %w", err)
	}
	in := &Inbox{members: members{name: "inbox", raft: r, followers: fl}, logs: logs, trans: trans, halt: f.halt}
	f.halt.setHandOff(func() {
		if r.State() == raft.Leader {
			go r.LeadershipTransfer() // from its own goroutine: the FSM's must not wait on raft
		}
	})
	return in, nil
}

// Apply orders data through raft (leader only) and waits until it is committed and applied here;
// it returns the state's result for the entry and its index.
func (in *Inbox) Apply(ctx context.Context, data []byte) (any, uint64, error) {
	if h, ok := in.halt.get(); ok {
		return nil, 0, fmt.Errorf("inbox: %w: %s", ErrHalted, h.Reason)
	}
	f, err := in.apply(ctx, data)
	if err != nil {
		return nil, 0, err
	}
	if err, ok := f.Response().(error); ok {
		return nil, f.Index(), err
	}
	return f.Response(), f.Index(), nil
}

// Halted reports why the inbox stopped applying entries on this node, and since when.
func (in *Inbox) Halted() (Halt, bool) { return in.halt.get() }

// Close shuts raft down and closes the log store. The state is the caller's to close, after.
func (in *Inbox) Close() error {
	in.halt.close()
	return in.shutdown(in.trans, in.logs.Close)
}
