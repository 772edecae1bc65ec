package audit

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// sealedEntry is a journaled entry waiting to be folded into node.db: its stored value and what
// chaining it needs.
type sealedEntry struct {
	seq   uint64
	prev  string
	hash  string
	value []byte
}

// needsTx reports whether a batch must be a node.db transaction: an AppendWith's fn writes to
// node.db, and a flush asks for the journal to be folded.
func needsTx(batch []*request) bool {
	for _, r := range batch {
		if r.with != nil || r.flush {
			return true
		}
	}
	return false
}

func onlyFlushes(batch []*request) bool {
	for _, r := range batch {
		if !r.flush {
			return false
		}
	}
	return true
}

// receive waits for the next request. With a journal backlog it also wakes when the backlog is due
// for folding, returning a nil request.
func (l *Log) receive() (*request, bool) {
	if l.j == nil || len(l.unfolded) == 0 {
		r, ok := <-l.queue
		return r, ok
	}
	select {
	case r, ok := <-l.queue:
		return r, ok
	default:
	}
	wait := l.foldInterval - time.Since(l.backlogSince)
	if wait <= 0 {
		return nil, true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r, ok := <-l.queue:
		return r, ok
	case <-t.C:
		return nil, true
	}
}

// commitJournal seals a batch after the chain head, appends it to the journal as one frame and
// syncs it once: that sync is the batch's commit. node.db is not touched.
func (l *Log) commitJournal(batch []*request) {
	if err := l.lockChain(); err != nil {
		complete(batch, fmt.Errorf("audit commit: %w", err))
		return
	}
	if len(l.unfolded) == 0 {
		// Everything journaled so far is durable in node.db (lockChain or an earlier fold saw to
		// that), so the frames in the file may be overwritten.
		if err := l.dbSynced(); err != nil {
			l.chainMu.Unlock()
			complete(batch, fmt.Errorf("audit commit: %w", err))
			return
		}
		l.j.rewind()
	}
	h := l.head
	sealed := make([]sealedEntry, 0, len(batch))
	values := make([][]byte, 0, len(batch))
	for _, r := range batch {
		es := r.group
		hr, n := h, len(sealed)
		for i := range es {
			e, v, err := sealValid(es[i], hr, l.now())
			if err != nil {
				r.err = fmt.Errorf("audit append: %w", err)
				break
			}
			v = sealValue(l.key, e.Seq, v)
			sealed = append(sealed, sealedEntry{seq: e.Seq, prev: e.PrevHash, hash: e.Hash, value: v})
			values = append(values, v)
			es[i] = e
			hr = head{Seq: e.Seq, Hash: e.Hash}
		}
		if r.err != nil { // a group is appended whole or not at all
			sealed, values = sealed[:n], values[:n]
			continue
		}
		h = hr
	}
	if len(sealed) == 0 {
		l.chainMu.Unlock()
		complete(batch, nil)
		return
	}
	err := l.j.append(values)
	// Kept in the chain even when the write failed: the frame may be on disk, and recovery would
	// fold it, so nothing may be sealed differently under these sequence numbers.
	if len(l.unfolded) == 0 {
		l.backlogSince = time.Now()
	}
	l.unfolded = append(l.unfolded, sealed...)
	l.head = h
	l.chainMu.Unlock()
	if err != nil {
		// Give up the journal for this process and make the batch durable in node.db instead.
		l.jerr = err
		if ferr := l.commitTx(nil); ferr != nil {
			complete(batch, fmt.Errorf("audit commit: %w", errors.Join(err, ferr)))
			return
		}
	}
	l.commits.Add(1)
	l.entries.Add(uint64(len(sealed)))
	complete(batch, nil)
	if len(l.unfolded) >= l.foldEntries || time.Since(l.backlogSince) >= l.foldInterval {
		l.fold()
	}
}

// flush returns once every entry appended before it is in node.db. After Close it waits for the
// writer's last fold instead.
func (l *Log) flush() error {
	r := &request{flush: true, done: make(chan struct{})}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		<-l.done
		return nil
	}
	l.queue <- r
	l.mu.RUnlock()
	<-r.done
	return r.err
}

// fold moves the journaled entries into node.db; on failure they stay journaled and the next fold
// tries again.
func (l *Log) fold() {
	t0 := time.Now()
	_ = l.commitTx(nil)
	l.foldNanos.Add(int64(time.Since(t0)))
}

// commitTx commits, in one node.db transaction, every journaled entry not yet folded followed by
// the batch's entries (each with its fn), so that an AppendWith's writes land after everything
// acknowledged before it. A nil batch only folds. It reports the transaction's error; the batch's
// waiters have then been told.
func (l *Log) commitTx(batch []*request) error {
	if len(l.unfolded) == 0 && onlyFlushes(batch) {
		complete(batch, nil) // nothing to fold; an empty commit would still cost two syncs
		return nil
	}
	tx, err := l.db.Begin(true)
	if err != nil {
		err = fmt.Errorf("audit commit: %w", err)
		complete(batch, err)
		return err
	}
	l.chainMu.Lock()
	defer l.chainMu.Unlock()
	entries := 0
	err = func() error {
		l.reconcile(tx)
		if _, err := l.foldInto(tx); err != nil {
			return err
		}
		var err error
		if entries, err = l.appendBatch(tx, batch); err != nil {
			return err
		}
		h, _, err := readHead(tx.Bucket(bucketMeta))
		if err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if len(l.unfolded) > 0 {
			l.folds.Add(1)
		}
		l.head = h
		l.unfolded = l.unfolded[:0]
		return nil
	}()
	if err != nil {
		_ = tx.Rollback()
		err = fmt.Errorf("audit commit: %w", err)
	} else if entries > 0 {
		l.commits.Add(1)
		l.entries.Add(uint64(entries))
	}
	complete(batch, err)
	return err
}

// foldInto stores in tx the journaled entries it does not hold yet, chained after its head, and
// returns the new head. Entries at or below the head are already there (an AppendTx folded them).
func (l *Log) foldInto(tx *bbolt.Tx) (head, error) {
	meta := tx.Bucket(bucketMeta)
	h, _, err := readHead(meta)
	if err != nil || len(l.unfolded) == 0 {
		return h, err
	}
	entries := appendOnly(tx.Bucket(bucketEntries))
	moved := false
	for _, s := range l.unfolded {
		if s.seq <= h.Seq {
			continue
		}
		if s.seq != h.Seq+1 || s.prev != h.Hash {
			return h, fmt.Errorf("fold journaled entry %d: node.db's head is entry %d (%s), not its predecessor", s.seq, h.Seq, h.Hash)
		}
		if err := entries.Put(seqKey(s.seq), s.value); err != nil {
			return h, fmt.Errorf("fold journaled entry %d: %w", s.seq, err)
		}
		h, moved = head{Seq: s.seq, Hash: s.hash}, true
	}
	if moved {
		if err := writeHead(meta, h); err != nil {
			return h, err
		}
	}
	return h, nil
}

// lockChain locks chainMu for sealing. After an AppendTx it first waits for that caller's
// transaction to end (by taking node.db's write lock, which respects the lock order) and adopts
// node.db's head if the caller committed.
func (l *Log) lockChain() error {
	l.chainMu.Lock()
	if !l.external {
		return nil
	}
	l.chainMu.Unlock()
	tx, err := l.db.Begin(true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	l.chainMu.Lock()
	l.reconcile(tx)
	return nil
}

// reconcile catches up with what AppendTx callers committed: the journaled entries they folded and
// the entries they appended after them. tx must be a write transaction, so that no caller's
// transaction is still open.
func (l *Log) reconcile(tx *bbolt.Tx) {
	if !l.external {
		return
	}
	h, _, err := readHead(tx.Bucket(bucketMeta))
	if err != nil {
		return // foldInto reports it
	}
	l.external = false
	n := 0
	for n < len(l.unfolded) && l.unfolded[n].seq <= h.Seq {
		n++
	}
	l.unfolded = append(l.unfolded[:0], l.unfolded[n:]...)
	if h.Seq > l.head.Seq {
		l.head = h
	}
}

// dbSynced makes node.db's commits durable before the journal frames they fold are overwritten.
// bbolt syncs every commit unless the file was opened with NoSync.
func (l *Log) dbSynced() error {
	if !l.db.NoSync {
		return nil
	}
	return l.db.Sync()
}

// finish runs when the queue is closed and drained: fold everything, empty the journal.
func (l *Log) finish() {
	if l.j == nil {
		return
	}
	err := l.commitTx(nil)
	if err == nil && l.jerr == nil {
		err = l.dbSynced()
	}
	empty := err == nil && l.jerr == nil && len(l.unfolded) == 0
	l.closeErr = errors.Join(err, l.j.close(empty))
}

// complete reports to every waiter of a batch; err fails those not already failed on their own.
func complete(batch []*request, err error) {
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}
