package replication

import (
	"fmt"
	"io"
	"log/slog"

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

// fsm is the raft.FSM of one shard: a thin shell over State.
type fsm struct {
	shard    string
	state    *State
	observer Observer
	log      *slog.Logger
}

var _ raft.BatchingFSM = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies every command log entry of the batch in one state transaction.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	results := make([]Result, len(logs))
	entries := make([]appliedEntry, 0, len(logs))
	applied := f.state.Stats().AppliedIndex
	for i, l := range logs {
		e := appliedEntry{index: l.Index, term: l.Term, result: &results[i]}
		// Entries the state already holds (replayed after a restart) are skipped undecoded.
		if l.Type == raft.LogCommand && l.Index > applied {
			cmd := new(Command)
			if err := cmd.UnmarshalBinary(l.Data); err != nil {
				// A corrupt entry is a bug or disk damage; applying nothing keeps every replica equal.
				f.log.Error("skipping undecodable log entry", "index", l.Index, "error", err)
				out[i] = fmt.Errorf("entry %d: %w", l.Index, err)
				entries = append(entries, e)
				continue
			}
			e.cmd = cmd
		}
		entries = append(entries, e)
	}
	changes, err := f.state.applyBatch(entries)
	if err != nil {
		// The state file cannot be written: the replica must not go on as if it had applied.
		panic(fmt.Sprintf("fedarms: shard %s: apply to state file failed: %v", f.shard, err))
	}
	if len(changes) > 0 && f.observer != nil {
		f.observer.Applied(f.shard, changes)
	}
	for i := range out {
		if out[i] == nil {
			out[i] = results[i]
		}
	}
	return out
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return f.state.snapshot() }

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp, st, err := restoreFile(f.state.Path(), rc)
	if err != nil {
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
