package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
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
	// Journal, when set, is the path of a write-ahead journal: a batch is durable once appended
	// there (one fdatasync) and is folded into node.db later, off the caller's path. Empty keeps
	// every batch a node.db commit. See DESIGN.md.
	Journal string
	// FoldEntries folds the journal into node.db once this many entries wait. Default 512.
	FoldEntries int
	// FoldInterval folds entries that have waited this long, even when few. Default 100 ms.
	FoldInterval time.Duration
	// JournalChunk is how much the journal file is preallocated by at a time. Default 4 MiB.
	JournalChunk int64
	// Key seals entries at rest, in node.db and the journal (nil: a plain data dir; atrest.go).
	Key *atrest.Key
}

// Defaults for the journal's folding when Options leave them 0; see BenchmarkFold.
const (
	DefaultFoldEntries  = 512
	DefaultFoldInterval = 100 * time.Millisecond
)

// Log appends entries to the audit buckets of one bbolt file.
type Log struct {
	db       *bbolt.DB
	now      func() time.Time
	maxBatch int
	commits  atomic.Uint64
	entries  atomic.Uint64 // entries made durable, over all commits

	// mu guards closed and the closing of queue: Append sends under the read lock so that Close
	// (write lock) never closes the channel under a sender.
	mu     sync.RWMutex
	closed bool
	queue  chan *request
	done   chan struct{} // closed when the writer has committed everything and exited

	// With a journal (fold.go). j, jerr, backlogSince and closeErr belong to the writer goroutine
	// (closeErr is read after done closes).
	j            *journal
	jerr         error // the journal failed; from then on every batch is a node.db commit
	foldEntries  int
	foldInterval time.Duration
	folds        atomic.Uint64 // node.db transactions that moved journaled entries
	foldNanos    atomic.Int64  // time the writer spent in folds of its own (not AppendWith's)
	backlogSince time.Time     // when the oldest unfolded entry was journaled
	closeErr     error

	// chainMu guards head, unfolded and external: the writer seals and folds under it, AppendTx
	// folds under it from a caller's transaction. Lock order: node.db's write lock (an open write
	// transaction) before chainMu, never the reverse.
	chainMu  sync.Mutex
	head     head          // last sealed entry, journaled or in node.db
	unfolded []sealedEntry // journaled but not yet in node.db, in sequence order
	external bool          // AppendTx ran: node.db's head may have moved past head

	key *atrest.Key // seals entries at rest; set at Open
}

// request is one queued entry, or a group of them; the writer seals the entries in place, sets
// err, then closes done.
type request struct {
	group []Entry // the entries, in order: one's own for Append, the caller's for AppendGroup
	one   [1]Entry
	whole bool                  // AppendGroup: the entries are appended all or none
	with  func(*bbolt.Tx) error // optional: runs in the same transaction as the entry
	flush bool                  // no entry: fold the journal into node.db (readers want it there)
	err   error
	done  chan struct{}
}

// Pending is an entry handed to Append; Wait tells when it is durable.
type Pending struct {
	r *request
}

// Open creates the audit buckets if needed and starts the group-commit writer. With a journal it
// first recovers: every entry the journal holds beyond node.db's head is folded into node.db (and
// Open fails with ErrJournalDamaged if one does not continue the chain), then the journal starts
// empty. Only one Log may have a given journal open at a time (Open fails for a second), and a
// node.db must have at most one journaled Log: two would fork the chain.
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
		key:      opts.Key,
	}
	if opts.Journal != "" {
		if err := l.openJournal(opts); err != nil {
			return nil, fmt.Errorf("open audit log: %w", err)
		}
	}
	go l.write()
	return l, nil
}

// AppendTx appends e inside the caller's write transaction and fills in Seq, Time, PrevHash and Hash.
// The head is read from tx itself, so an entry whose transaction rolls back leaves no trace; e then
// holds values that were never stored. With a journal the journaled entries not yet in node.db are
// folded into tx first, so the entry follows them. Never call Pending.Wait (nor Tail, Since or
// Verify) while holding a write transaction: the writer needs the same lock.
func (l *Log) AppendTx(tx *bbolt.Tx, e *Entry) error {
	if !tx.Writable() {
		return errors.New("audit append: transaction is read-only")
	}
	if l.j == nil {
		return appendTx(tx, e, l.now, l.key)
	}
	// The entry follows the journaled ones: fold them into this transaction first, and tell the
	// writer that node.db's head may move under it.
	l.chainMu.Lock()
	defer l.chainMu.Unlock()
	l.external = true
	if _, err := l.foldInto(tx); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	return appendTx(tx, e, l.now, l.key)
}

// appendTx seals e after the head stored in tx and stores it there.
func appendTx(tx *bbolt.Tx, e *Entry, now func() time.Time, key *atrest.Key) error {
	entries, meta, err := auditBuckets(tx)
	if err != nil {
		return err
	}
	prev, _, err := readHead(meta)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	sealed, value, err := seal(*e, prev, now())
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if err := entries.Put(seqKey(sealed.Seq), sealValue(key, sealed.Seq, value)); err != nil {
		return fmt.Errorf("audit append %d: %w", sealed.Seq, err)
	}
	if err := writeHead(meta, head{Seq: sealed.Seq, Hash: sealed.Hash}); err != nil {
		return fmt.Errorf("audit append %d: %w", sealed.Seq, err)
	}
	*e = sealed
	return nil
}

// Append queues e for the writer and returns at once, or blocks while the queue is full; entries
// are never dropped. Entries queued while a commit is in flight share the next commit: a node.db
// transaction, or with a journal one journal frame and one fdatasync. A compact e.Query is kept,
// not copied: it must not change until Wait returns.
func (l *Log) Append(e Entry) Pending { return l.AppendWith(e, nil) }

// AppendWith is Append with fn run in the same transaction, right after the entry is appended, so
// that what the entry audits (a hit notification, say) becomes durable with it or not at all. An
// error from fn fails the whole group commit it shares, so fn should fail only on storage errors.
// With a journal the commit is still a node.db transaction: it folds every journaled entry first,
// so the entry and fn's writes land after everything acknowledged before them.
func (l *Log) AppendWith(e Entry, fn func(*bbolt.Tx) error) Pending {
	r := &request{with: fn, done: make(chan struct{})}
	r.one[0] = e
	r.group = r.one[:]
	if err := validate(&r.one[0]); err != nil {
		return r.fail(fmt.Errorf("audit append: %w", err))
	}
	return l.enqueue(r)
}

// enqueue hands r to the writer, or fails it after Close.
func (l *Log) enqueue(r *request) Pending {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return r.fail(ErrClosed)
	}
	l.queue <- r
	return Pending{r: r}
}

// AppendGroup queues entries to be made durable together, in their order and in one commit, with
// fn (optional) run in the same transaction before them: what one screened chunk of lines audits,
// its hits' notifications in fn. One request instead of one per entry, and at least a group per
// commit (a writer that kept up with single entries committed a dozen at a time, most of them
// node.db transactions for the hit of one). Wait returns the last entry of the group once every
// one is durable. An entry that cannot be logged fails the whole group, none of it appended; so
// does an fn that declines. es is the caller's to reuse once Wait returned.
func (l *Log) AppendGroup(es []Entry, fn func(*bbolt.Tx) error) Pending {
	r := &request{group: es, whole: true, with: fn, done: make(chan struct{})}
	if len(es) == 0 {
		return r.fail(fmt.Errorf("audit append: %w: empty group", ErrInvalidEntry))
	}
	for i := range r.group {
		if err := validate(&r.group[i]); err != nil {
			return r.fail(fmt.Errorf("audit append: entry %d of a group: %w", i, err))
		}
	}
	return l.enqueue(r)
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
		es := p.r.group
		return es[len(es)-1], nil
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("audit wait: %w", ctx.Err())
	}
}

// Stats says how the writer has batched and folded so far.
type Stats struct {
	// Commits counts the batches made durable (node.db transactions or journal frames that carried
	// entries), to show how well entries are batched. Folding the journal into node.db makes
	// nothing newly durable and is not counted.
	Commits  uint64
	Entries  uint64        // entries made durable by those batches
	Folds    uint64        // node.db transactions that moved journaled entries
	FoldTime time.Duration // time the writer spent folding, during which no batch was committed
}

// Stats returns the writer's counters.
func (l *Log) Stats() Stats {
	return Stats{Commits: l.commits.Load(), Entries: l.entries.Load(), Folds: l.folds.Load(),
		FoldTime: time.Duration(l.foldNanos.Load())}
}

// Close commits every queued entry, then stops the writer. Later appends fail with ErrClosed.
// With a journal it also folds every journaled entry into node.db and leaves the journal empty; if
// that fails the entries stay in the journal for the next Open, and Close reports why.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.mu.Unlock()
	<-l.done
	return l.closeErr
}

// write is the single writer: it takes whatever is queued, makes it durable in one go (a node.db
// transaction, or a journal frame) and reports to each waiter. Batches grow by themselves while a
// commit (an fsync) is in flight.
func (l *Log) write() {
	defer close(l.done)
	batch := make([]*request, 0, 64)
	for {
		r, ok := l.receive()
		if !ok {
			l.finish()
			return
		}
		if r == nil { // the journal's backlog is due for folding
			l.fold()
			continue
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
		switch {
		case l.j == nil:
			l.commit(batch)
		case l.jerr != nil || needsTx(batch):
			l.commitTx(batch)
		default:
			l.commitJournal(batch)
		}
	}
}

// appendBatch appends the batch's entries in tx, each after its fn, and counts them. An fn that
// declines (ErrDeclined, having written nothing) fails its entry alone, as does an entry without an
// fn that cannot be encoded; any other error fails the transaction. Flush requests carry no entry.
//
// The head is read once and written once per batch (each entry had read and rewritten it, a
// quarter of the writer's time in a screening): no fn writes audit entries, and nothing else
// writes to tx meanwhile.
func (l *Log) appendBatch(tx *bbolt.Tx, batch []*request) (int, error) {
	entries := 0
	bucket, meta, err := auditBuckets(tx)
	if err != nil {
		return 0, err
	}
	h, _, err := readHead(meta)
	if err != nil {
		return 0, fmt.Errorf("audit append: %w", err)
	}
	for _, r := range batch {
		if r.flush {
			continue
		}
		if r.with != nil {
			if err := r.with(tx); err != nil {
				if errors.Is(err, ErrDeclined) {
					r.err = err
					continue
				}
				return entries, err
			}
		}
		es := r.group
		for i := range es {
			e, value, err := sealValid(es[i], h, l.now())
			if err != nil {
				err = fmt.Errorf("audit append: %w", err)
				// With its fn's change already in tx, or others of its group sealed, the entry
				// cannot fail alone.
				if errors.Is(err, ErrInvalidEntry) && r.with == nil && !r.whole {
					r.err = err
					break
				}
				return entries, err
			}
			if err := bucket.Put(seqKey(e.Seq), sealValue(l.key, e.Seq, value)); err != nil {
				return entries, fmt.Errorf("audit append %d: %w", e.Seq, err)
			}
			h = head{Seq: e.Seq, Hash: e.Hash}
			es[i] = e
			entries++
		}
	}
	if entries > 0 {
		if err := writeHead(meta, h); err != nil {
			return entries, fmt.Errorf("audit append %d: %w", h.Seq, err)
		}
	}
	return entries, nil
}

// auditBuckets returns the entries and meta buckets of tx, creating them if needed, the entries
// bucket set up for appending (appendOnly).
func auditBuckets(tx *bbolt.Tx) (entries, meta *bbolt.Bucket, err error) {
	if entries, err = tx.CreateBucketIfNotExists(bucketEntries); err != nil {
		return nil, nil, fmt.Errorf("audit append: %w", err)
	}
	appendOnly(entries)
	if meta, err = tx.CreateBucketIfNotExists(bucketMeta); err != nil {
		return nil, nil, fmt.Errorf("audit append: %w", err)
	}
	return entries, meta, nil
}

// appendOnly fills the pages of bucket b up when bbolt splits them, for a bucket whose keys only
// grow, as the entries' sequence numbers do: at bbolt's default (half of a page) every page an
// append filled stayed half empty for good, so node.db took twice the space and every commit wrote
// twice the pages it needed (DESIGN.md, *Full pages*). The fill factor only steers where bbolt
// splits a page it writes; the file's format is unchanged. bbolt keeps it per transaction, in the
// bucket handle tx caches, so every write transaction sets it before putting an entry.
func appendOnly(b *bbolt.Bucket) *bbolt.Bucket {
	if b != nil {
		b.FillPercent = 1.0
	}
	return b
}

// ErrDeclined, returned (wrapped) by an AppendWith fn that wrote nothing, says the change it would
// have made is not to be made: its entry is not appended and Wait returns the fn's error, while the
// rest of the batch commits.
var ErrDeclined = errors.New("change declined")

// commit writes one batch. An entry that cannot be encoded fails alone; a failed transaction fails
// the whole batch, since none of it is durable.
func (l *Log) commit(batch []*request) {
	entries := 0
	err := l.db.Update(func(tx *bbolt.Tx) error {
		var err error
		entries, err = l.appendBatch(tx, batch)
		return err
	})
	if err == nil {
		l.commits.Add(1)
		l.entries.Add(uint64(entries))
	}
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.err = fmt.Errorf("audit commit: %w", err)
		}
		close(r.done)
	}
}
