package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned for an entry appended after Close.
var ErrClosed = errors.New("audit log closed")

// DefaultQueueSize bounds the entries waiting for the writer when Options.QueueSize is 0.
const DefaultQueueSize = 4096

// Options tune a Log; the zero value is usable.
type Options struct {
	// Now stamps entries; tests pass a fake clock. Default time.Now.
	Now func() time.Time
	// QueueSize bounds entries waiting for the writer; Append blocks when it is full. Default 4096.
	QueueSize int
}

// Log appends entries to the audit buckets of one bbolt file.
type Log struct {
	db       *bbolt.DB
	now      func() time.Time
	maxBatch int
	commits  atomic.Uint64

	// mu guards closed and the closing of queue: Append sends under the read lock so that Close
	// (write lock) never closes the channel under a sender.
	mu     sync.RWMutex
	closed bool
	queue  chan *request
	done   chan struct{} // closed when the writer has committed everything and exited
}

// request is one queued entry; the writer fills entry and err, then closes done.
type request struct {
	entry Entry
	with  func(*bbolt.Tx) error // optional: runs in the same transaction as the entry
	err   error
	done  chan struct{}
}

// Pending is an entry handed to Append; Wait tells when it is durable.
type Pending struct {
	r *request
}

// Open creates the audit buckets if needed and starts the group-commit writer.
func Open(db *bbolt.DB, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketEntries, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l := &Log{
		db:       db,
		now:      opts.Now,
		maxBatch: opts.QueueSize,
		queue:    make(chan *request, opts.QueueSize),
		done:     make(chan struct{}),
	}
	go l.write()
	return l, nil
}

// AppendTx appends e inside the caller's write transaction and fills in Seq, Time, PrevHash and Hash.
// The head is read from tx itself, so an entry whose transaction rolls back leaves no trace; e then
// holds values that were never stored. Never call Pending.Wait while holding a write transaction:
// the writer needs the same lock.
func (l *Log) AppendTx(tx *bbolt.Tx, e *Entry) error {
	if !tx.Writable() {
		return errors.New("audit append: transaction is read-only")
	}
	entries, err := tx.CreateBucketIfNotExists(bucketEntries)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	prev, _, err := readHead(meta)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	sealed, value, err := seal(*e, prev, l.now())
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if err := entries.Put(seqKey(sealed.Seq), value); err != nil {
		return fmt.Errorf("audit append %d: %w", sealed.Seq, err)
	}
	if err := writeHead(meta, head{Seq: sealed.Seq, Hash: sealed.Hash}); err != nil {
		return fmt.Errorf("audit append %d: %w", sealed.Seq, err)
	}
	*e = sealed
	return nil
}

// Append queues e for the writer and returns at once, or blocks while the queue is full; entries
// are never dropped. Entries queued while a commit is in flight share the next commit.
func (l *Log) Append(e Entry) Pending { return l.AppendWith(e, nil) }

// AppendWith is Append with fn run in the same transaction, right after the entry is appended, so
// that what the entry audits (a hit notification, say) becomes durable with it or not at all. An
// error from fn fails the whole group commit it shares, so fn should fail only on storage errors.
func (l *Log) AppendWith(e Entry, fn func(*bbolt.Tx) error) Pending {
	r := &request{entry: e, with: fn, done: make(chan struct{})}
	if err := validate(&r.entry); err != nil {
		return r.fail(fmt.Errorf("audit append: %w", err))
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return r.fail(ErrClosed)
	}
	l.queue <- r
	return Pending{r: r}
}

func (r *request) fail(err error) Pending {
	r.err = err
	close(r.done)
	return Pending{r: r}
}

// Wait returns the sealed entry once it is durable. When ctx ends first the entry may still be
// committed later; only its outcome is no longer reported.
func (p Pending) Wait(ctx context.Context) (Entry, error) {
	if p.r == nil {
		return Entry{}, ErrClosed
	}
	select {
	case <-p.r.done:
		if p.r.err != nil {
			return Entry{}, p.r.err
		}
		return p.r.entry, nil
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("audit wait: %w", ctx.Err())
	}
}

// Commits counts the transactions the writer has committed, to show how well entries are batched.
func (l *Log) Commits() uint64 {
	return l.commits.Load()
}

// Close commits every queued entry, then stops the writer. Later appends fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.mu.Unlock()
	<-l.done
	return nil
}

// write is the single writer: it takes whatever is queued, commits it in one transaction and
// reports to each waiter. Batches grow by themselves while a commit (an fsync) is in flight.
func (l *Log) write() {
	defer close(l.done)
	batch := make([]*request, 0, 64)
	for {
		r, ok := <-l.queue
		if !ok {
			return
		}
		batch = append(batch[:0], r)
	drain:
		for len(batch) < l.maxBatch {
			select {
			case r, ok := <-l.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		l.commit(batch)
	}
}

// commit writes one batch. An entry that cannot be encoded fails alone; a failed transaction fails
// the whole batch, since none of it is durable.
func (l *Log) commit(batch []*request) {
	err := l.db.Update(func(tx *bbolt.Tx) error {
		for _, r := range batch {
			e := r.entry
			if err := l.AppendTx(tx, &e); err != nil {
				if errors.Is(err, ErrInvalidEntry) {
					r.err = err
					continue
				}
				return err
			}
			if r.with != nil {
				if err := r.with(tx); err != nil {
					return err
				}
			}
			r.entry = e
		}
		return nil
	})
	if err == nil {
		l.commits.Add(1)
	}
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.err = fmt.Errorf("audit commit: %w", err)
		}
		close(r.done)
	}
}
