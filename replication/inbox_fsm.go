package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// inboxFSM is the inbox group's raft.FSM: a shell over the node's InboxState. Entries the state
// already holds (replayed after a restart) are skipped; a batch the state cannot write halts the
// group on this node and is tried again with backoff, as a shard does (halt.go).
type inboxFSM struct {
	state InboxState
	log   *slog.Logger
	halt  *halter
}

var _ raft.BatchingFSM = (*inboxFSM)(nil)

func (f *inboxFSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch hands the batch's new commands to the state in one write.
func (f *inboxFSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	applied := f.state.InboxApplied()
	var entries []InboxEntry
	var at []int
	for i, l := range logs {
		if l.Type == raft.LogCommand && l.Index > applied {
			entries = append(entries, InboxEntry{Index: l.Index, Term: l.Term, Data: l.Data})
			at = append(at, i)
		}
	}
	if len(entries) == 0 {
		return out
	}
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		res, err := f.state.ApplyInbox(entries)
		if err == nil && len(res) != len(entries) {
			err = fmt.Errorf("state answered %d results for %d entries", len(res), len(entries))
		}
		if err == nil {
			if attempt > 0 {
				f.halt.clear()
				f.log.Info("inbox resumed applying", "index", entries[0].Index, "attempts", attempt+1)
			}
			for j, i := range at {
				out[i] = res[j]
			}
			return out
		}
		f.halt.set(fmt.Sprintf("inbox state cannot be written: %v", err), entries[0].Index, time.Now())
		if attempt == 0 || backoff == 10*time.Second {
			f.log.Error("inbox halted: state cannot be written; retrying", "index", entries[0].Index, "error", err, "retry_in", backoff)
		}
		f.halt.handOffLeadership()
		if !f.halt.wait(backoff) {
			return closedOut(out)
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// inboxSnapMagic starts an inbox snapshot stream, followed by the applied index (uvarint) and the
// state's own bytes.
var inboxSnapMagic = []byte("FEDINBX1")

// Snapshot asks the state for a writer; called on raft's FSM goroutine, so the index read here is
// the one raft labels the snapshot with (or below it: the state is merged, never replaced).
func (f *inboxFSM) Snapshot() (raft.FSMSnapshot, error) {
	if f.halt.closed() {
		return nil, ErrClosed
	}
	index := f.state.InboxApplied()
	s, err := f.state.SnapshotInbox()
	if err != nil {
		return nil, fmt.Errorf("inbox snapshot: %w", err)
	}
	return inboxSnapshot{index: index, s: s}, nil
}

// Restore merges a snapshot into the state.
func (f *inboxFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	magic := make([]byte, len(inboxSnapMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, inboxSnapMagic) {
		return errors.New("restore inbox snapshot: not an inbox snapshot")
	}
	index, err := binary.ReadUvarint(br)
	if err != nil {
		return fmt.Errorf("restore inbox snapshot: %w", err)
	}
	if err := f.state.RestoreInbox(index, br); err != nil {
		return fmt.Errorf("restore inbox snapshot: %w", err)
	}
	return nil
}

type inboxSnapshot struct {
	index uint64
	s     InboxSnapshot
}

func (p inboxSnapshot) Persist(sink raft.SnapshotSink) error {
	bw := bufio.NewWriterSize(sink, 1<<20)
	hdr := binary.AppendUvarint(append([]byte(nil), inboxSnapMagic...), p.index)
	_, err := bw.Write(hdr)
	if err == nil {
		_, err = p.s.WriteTo(bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("persist inbox snapshot: %w", err)
	}
	return sink.Close()
}

func (p inboxSnapshot) Release() { p.s.Release() }
