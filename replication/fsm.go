package replication

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/raft"
)

// Observer learns of every change once it is durable in the state file, in apply order. The node
// uses it to keep its match index current. Calls come from raft's FSM goroutine, one at a time.
type Observer interface {
	// Applied reports the changes of one applied batch of log entries.
	Applied(shard string, changes []Change)
	// Restored reports that the shard's state was replaced by a snapshot; the observer re-reads it.
	Restored(shard string, s *State)
}

// fsm is the raft.FSM of one shard: a thin shell over State, which halts instead of skipping an
// entry or panicking when one cannot be applied (see halt.go).
type fsm struct {
	shard    string
	state    *State
	observer Observer
	log      *slog.Logger
	halt     *halter
	// decode reads a log entry's command; nil is Command.UnmarshalBinary (tests emulate a release
	// that reads another format).
	decode func(*Command, []byte) error
	// retryMin and retryMax bound the backoff between attempts to write the state file.
	retryMin, retryMax time.Duration
	// logs is the group's raft log, read to tell a new entry of another history (diverge.go);
	// nil in tests of the FSM alone.
	logs raft.LogStore
}

var _ raft.BatchingFSM = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies every command log entry of the batch in one state transaction. It returns
// only once the entries are durable in the state file, or when the group closes: raft counts the
// entries it returned for as applied, and the state's applied index is what a restart replays from.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	results := make([]Result, len(logs))
	entries := make([]appliedEntry, 0, len(logs))
	st := f.state.Stats()
	applied := st.AppliedIndex
	var undecodable error
	var undecodableAt uint64
	for i, l := range logs {
		if l.Index <= applied && diverged(l.Index, l.Term, st) {
			return f.haltDiverged(l.Index, l.Term, st, out)
		}
		if l.Index == applied+1 {
			if from, term, ok := f.replacedUnder(st); ok {
				return f.haltDiverged(from, term, st, out)
			}
		}
		e := appliedEntry{index: l.Index, term: l.Term, result: &results[i]}
		// Entries the state already holds (replayed after a restart) are skipped undecoded.
		if l.Type == raft.LogCommand && l.Index > applied {
			cmd := new(Command)
			if err := f.decodeCommand(cmd, l.Data); err != nil {
				undecodable, undecodableAt = err, l.Index
				break
			}
			e.cmd = cmd
		}
		entries = append(entries, e)
	}
	if !f.applyDurably(entries) {
		return closedOut(out)
	}
	for i := range entries {
		out[i] = results[i]
	}
	if undecodable != nil {
		// Every replica of this release meets the same entry; applying nothing here while a newer
		// release applies it would leave the copies different for good, so the shard stops until
		// a release that reads it restarts the node. A damaged entry (bad checksum, bytes that do
		// not parse) is never applied either.
		var ve *VersionError
		var ce *ChecksumError
		var reason string
		var needs byte
		switch {
		case errors.As(undecodable, &ve):
			needs = ve.Found
			reason = fmt.Sprintf("entry %d is in command format %d; this release reads formats %d to %d: restart this node with a release that reads command format %d",
				undecodableAt, ve.Found, CommandFormatOldest, CommandFormatNewest, ve.Found)
		case errors.As(undecodable, &ce):
			reason = fmt.Sprintf("entry %d is damaged (checksum %08x, its bytes sum to %08x); it is not applied: the copy of this shard here must be rebuilt from the others",
				undecodableAt, ce.Want, ce.Got)
		default:
			reason = fmt.Sprintf("entry %d cannot be decoded: %v; it is not applied: restart this node with a release that reads it, or rebuild the copy of this shard here from the others", undecodableAt, undecodable)
		}
		f.halt.setFormat(reason, undecodableAt, needs, time.Now())
		f.log.Error("shard halted: undecodable log entry", "index", undecodableAt, "error", undecodable, "needs_command_format", needs)
		for f.halt.wait(5 * time.Second) {
			f.halt.handOffLeadership()
		}
		return closedOut(out)
	}
	return out
}

// closedOut answers every entry not yet answered with ErrClosed.
func closedOut(out []any) []any {
	for i := range out {
		if out[i] == nil {
			out[i] = ErrClosed
		}
	}
	return out
}

func (f *fsm) decodeCommand(c *Command, b []byte) error {
	if f.decode != nil {
		return f.decode(c, b)
	}
	return c.UnmarshalBinary(b)
}

// applyDurably writes entries to the state file, trying again with backoff while the write fails
// (the shard is halted meanwhile), and tells the observer once it succeeded. It reports false when
// the group closed before the write succeeded.
func (f *fsm) applyDurably(entries []appliedEntry) bool {
	if len(entries) == 0 {
		return true
	}
	backoff := f.retryMin
	for attempt := 0; ; attempt++ {
		changes, err := f.state.applyBatch(entries)
		if err == nil {
			if attempt > 0 {
				f.halt.clear()
				f.log.Info("shard resumed applying", "index", entries[0].index, "attempts", attempt+1)
			}
			if len(changes) > 0 && f.observer != nil {
				f.observer.Applied(f.shard, changes)
			}
			return true
		}
		f.halt.set(fmt.Sprintf("state file cannot be written: %v", err), entries[0].index, time.Now())
		if attempt == 0 || backoff == f.retryMax {
			f.log.Error("shard halted: state file cannot be written; retrying", "index", entries[0].index, "error", err, "retry_in", backoff)
		}
		f.halt.handOffLeadership()
		if !f.halt.wait(backoff) {
			return false
		}
		backoff = min(2*backoff, f.retryMax)
	}
}

// Snapshot refuses once the group is closing: raft labels a snapshot with the last index it handed
// the FSM, and after a halt ended by closing, those entries were never applied; a snapshot then
// would let raft compact away entries the state does not hold.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if f.halt.closed() {
		return nil, ErrClosed
	}
	return f.state.snapshot()
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp, st, err := restoreFile(f.state.Path(), f.state.key, rc)
	if err != nil {
		return err
	}
	if err := f.refuseOlderSnapshot(st); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := f.state.swap(tmp, st); err != nil {
		return err
	}
	if f.observer != nil {
		f.observer.Restored(f.shard, f.state)
	}
	return nil
}
