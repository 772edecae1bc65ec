package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/testutil"
)

func TestAppendSealsEntriesInOrder(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, _, _ := newLog(t, m.opts(Options{}))
		got := appendN(t, l, 5)
		start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		prev := ""
		for i, e := range got {
			if e.Seq != uint64(i+1) {
				t.Errorf("entry %d: seq %d", i, e.Seq)
			}
			if want := start.Add(time.Duration(i+1) * time.Second); !e.Time.Equal(want) {
				t.Errorf("entry %d: time %v, want %v", i, e.Time, want)
			}
			if e.PrevHash != prev || len(e.Hash) != 64 {
				t.Errorf("entry %d: prev %q hash %q, want prev %q", i, e.PrevHash, e.Hash, prev)
			}
			prev = e.Hash
		}
		stored, err := l.Tail(5)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			a, _ := json.Marshal(got[i])
			b, _ := json.Marshal(stored[i])
			if string(a) != string(b) {
				t.Errorf("entry %d handed back\n%s\nbut stored\n%s", i, a, b)
			}
		}
		mustVerifyOK(t, l, 5)
	})
}

func TestAppendTxCommitsWithCallersWrite(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		appendN(t, l, 2)
		e := searchEntry(7)
		err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("outbox"))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("hit-1"), []byte("{}")); err != nil {
				return err
			}
			return l.AppendTx(tx, &e)
		})
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != 3 {
			t.Errorf("seq %d, want 3", e.Seq)
		}
		after, err := l.Append(searchEntry(8)).Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if after.Seq != 4 || after.PrevHash != e.Hash {
			t.Errorf("group commit after AppendTx: seq %d prev %s, want 4 and %s", after.Seq, after.PrevHash, e.Hash)
		}
		mustVerifyOK(t, l, 4)
	})
}

func TestAppendTxRolledBackLeavesNothing(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		before := appendN(t, l, 3)
		errRollback := errors.New("rollback")
		err := db.Update(func(tx *bbolt.Tx) error {
			for i := range 10 {
				e := searchEntry(100 + i)
				if err := l.AppendTx(tx, &e); err != nil {
					return err
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("update: %v", err)
		}
		r := mustVerifyOK(t, l, 3)
		if r.Head != before[2].Hash {
			t.Errorf("head %s, want %s", r.Head, before[2].Hash)
		}
		next, err := l.Append(searchEntry(9)).Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if next.Seq != 4 || next.PrevHash != before[2].Hash {
			t.Errorf("next entry seq %d prev %s, want 4 after the rolled-back ones", next.Seq, next.PrevHash)
		}
	})
}

func TestAppendTxNeedsWriteTx(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		err := db.View(func(tx *bbolt.Tx) error {
			e := searchEntry(1)
			return l.AppendTx(tx, &e)
		})
		if err == nil {
			t.Fatal("append in a read-only transaction succeeded")
		}
	})
}

func TestAppendRejectsInvalidEntries(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		tests := []struct {
			name  string
			entry func(e *Entry)
		}{
			{"no action", func(e *Entry) { e.Action = "" }},
			{"no outcome", func(e *Entry) { e.Outcome = "" }},
			{"query not JSON", func(e *Entry) { e.Query = json.RawMessage(`{"serial":`) }},
		}
		l, db, _ := newLog(t, m.opts(Options{}))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := searchEntry(1)
				tt.entry(&e)
				if _, err := l.Append(e).Wait(context.Background()); !errors.Is(err, ErrInvalidEntry) {
					t.Errorf("Append: err %v, want ErrInvalidEntry", err)
				}
				err := db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) })
				if !errors.Is(err, ErrInvalidEntry) {
					t.Errorf("AppendTx: err %v, want ErrInvalidEntry", err)
				}
			})
		}
		mustVerifyOK(t, l, 0)
	})
}

func TestConcurrentAppendsShareCommits(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		const clients = 50
		l, db, _ := newLog(t, m.opts(Options{}))
		// Every append queues behind one stalled commit, as it would behind a slow fsync.
		release := stall(t, l, db)
		pending := make([]Pending, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() { pending[i] = l.Append(searchEntry(i)) })
		}
		wg.Wait()
		release()
		seen := map[uint64]bool{}
		for i, p := range pending {
			e, err := p.Wait(context.Background())
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			seen[e.Seq] = true
		}
		if len(seen) != clients {
			t.Errorf("%d distinct seqs, want %d", len(seen), clients)
		}
		if c := l.Stats().Commits; c > 2 {
			t.Errorf("%d commits for %d concurrent appends, want at most 2", c, clients)
		}
		mustVerifyOK(t, l, clients)
	})
}

func TestAppendBlocksWhenQueueFull(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{QueueSize: 1}))
		release := stall(t, l, db)
		var queued atomic.Int32
		pending := make(chan Pending, 5)
		go func() {
			for i := range 5 {
				pending <- l.Append(searchEntry(i))
				queued.Add(1)
			}
			close(pending)
		}()
		testutil.WaitFor(t, 5*time.Second, "the entry to be queued", func() bool { return queued.Load() >= 1 })
		time.Sleep(50 * time.Millisecond) // give a wrongly unbounded queue the chance to take everything
		// The writer holds at most one batch of one entry and the queue one more.
		if n := queued.Load(); n > 2 {
			t.Fatalf("%d appends returned while the writer was stalled, want at most 2", n)
		}
		release()
		for p := range pending {
			if _, err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		mustVerifyOK(t, l, 5)
	})
}

func TestCloseFlushesQueuedEntries(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, _, _ := newLog(t, m.opts(Options{}))
		const n = 200
		pending := make([]Pending, n)
		for i := range n {
			pending[i] = l.Append(searchEntry(i))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for i, p := range pending {
			select {
			case <-p.r.done:
			default:
				t.Fatalf("entry %d still pending after Close", i)
			}
			if _, err := p.Wait(context.Background()); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		mustVerifyOK(t, l, n)
		if _, err := l.Append(searchEntry(0)).Wait(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("append after close: %v, want ErrClosed", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
}

func TestWaitGivesUpWithContext(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		defer stall(t, l, db)()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := l.Append(searchEntry(1)).Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("wait: %v, want context.Canceled", err)
		}
	})
}

func TestAppendWithCommitsTogether(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		e, err := l.AppendWith(searchEntry(1), func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("outbox"))
			if err != nil {
				return err
			}
			return b.Put([]byte("hit-1"), []byte("{}"))
		}).Wait(context.Background())
		if err != nil || e.Seq != 1 {
			t.Fatalf("append with: %v %+v", err, e)
		}
		db.View(func(tx *bbolt.Tx) error {
			if tx.Bucket([]byte("outbox")).Get([]byte("hit-1")) == nil {
				t.Error("the write made with the entry is missing")
			}
			return nil
		})
		// A failing fn leaves neither the entry nor its write.
		boom := errors.New("disk full")
		_, err = l.AppendWith(searchEntry(2), func(tx *bbolt.Tx) error {
			tx.Bucket([]byte("outbox")).Put([]byte("hit-2"), []byte("{}"))
			return boom
		}).Wait(context.Background())
		if !errors.Is(err, boom) {
			t.Fatalf("want the fn's error, got %v", err)
		}
		db.View(func(tx *bbolt.Tx) error {
			if tx.Bucket([]byte("outbox")).Get([]byte("hit-2")) != nil {
				t.Error("write of a failed commit is present")
			}
			return nil
		})
		mustVerifyOK(t, l, 1)
	})
}

// A declined change (ErrDeclined) fails its own entry only: entries queued beside it commit, the
// chain has no gap, and Wait returns the fn's reason.
func TestAppendWithDeclinedFailsAlone(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, _, _ := newLog(t, m.opts(Options{}))
		taken := errors.New("already decided")
		declined := l.AppendWith(searchEntry(1), func(*bbolt.Tx) error { return fmt.Errorf("%w: %w", ErrDeclined, taken) })
		kept := l.Append(searchEntry(2))
		if _, err := declined.Wait(context.Background()); !errors.Is(err, taken) || !errors.Is(err, ErrDeclined) {
			t.Fatalf("declined: %v", err)
		}
		if e, err := kept.Wait(context.Background()); err != nil || e.Seq != 1 {
			t.Fatalf("the entry beside it: %v %+v", err, e)
		}
		mustVerifyOK(t, l, 1)
	})
}

// A group is sealed in order after what was appended before it, in one commit with its fn's write;
// a failing fn or an invalid entry leaves none of it, and the chain stays whole.
func TestAppendGroupCommitsTogether(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		if _, err := l.Append(searchEntry(0)).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		commits := l.Stats().Commits
		group := []Entry{searchEntry(1), searchEntry(2), searchEntry(3)}
		last, err := l.AppendGroup(group, nil).Wait(context.Background())
		if err != nil || last.Seq != 4 {
			t.Fatalf("group: %v, last %+v", err, last)
		}
		if got := l.Stats().Commits - commits; got != 1 {
			t.Errorf("a group took %d commits", got)
		}
		for i, e := range group {
			if e.Seq != uint64(i+2) || e.Hash == "" || i > 0 && e.PrevHash != group[i-1].Hash {
				t.Errorf("group entry %d not sealed in order: %+v", i, e)
			}
		}
		hits := []Entry{searchEntry(4), searchEntry(5)}
		if _, err := l.AppendGroup(hits, func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("outbox"))
			if err != nil {
				return err
			}
			return b.Put([]byte("hit-5"), []byte("{}"))
		}).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("disk full")
		if _, err := l.AppendGroup([]Entry{searchEntry(6)}, func(*bbolt.Tx) error { return boom }).Wait(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("want the fn's error, got %v", err)
		}
		bad := []Entry{searchEntry(7), {Agency: "FR-NCB", Action: ActionSearch}}
		if _, err := l.AppendGroup(bad, nil).Wait(context.Background()); !errors.Is(err, ErrInvalidEntry) {
			t.Fatalf("a group with an entry without outcome: %v", err)
		}
		if _, err := l.AppendGroup(nil, nil).Wait(context.Background()); !errors.Is(err, ErrInvalidEntry) {
			t.Fatalf("an empty group: %v", err)
		}
		e, err := l.Append(searchEntry(8)).Wait(context.Background())
		if err != nil || e.Seq != 7 {
			t.Fatalf("after the groups: %v %+v", err, e)
		}
		db.View(func(tx *bbolt.Tx) error {
			if tx.Bucket([]byte("outbox")).Get([]byte("hit-5")) == nil {
				t.Error("the write made with the group is missing")
			}
			return nil
		})
		settled(t, l)
		mustVerifyOK(t, l, 7)
	})
}

// TestEntriesFillTheirPages appends entries in groups, in every way entries reach bucket "audit"
// (a node.db commit, a fold of the journal, a caller's transaction), and requires the bucket's
// leaf pages to be mostly full: the keys only grow, so a page once split is never written again,
// and at bbolt's default fill factor each stayed about half empty (about 0.5 of the allocated
// bytes in use, twice the pages written per commit).
func TestEntriesFillTheirPages(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		const groups, size = 40, 64
		for g := range groups {
			es := make([]Entry, size)
			for i := range es {
				es[i] = screenedEntry(g*size + i)
			}
			if _, err := l.AppendGroup(es, nil).Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if g%10 == 9 { // an AppendTx folds the journal into its caller's transaction
				e := screenedEntry(-g)
				if err := db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		settled(t, l)
		var s bbolt.BucketStats
		if err := db.View(func(tx *bbolt.Tx) error {
			s = tx.Bucket(bucketEntries).Stats()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := groups*size + groups/10; s.KeyN != want {
			t.Fatalf("%d entries in the bucket, want %d", s.KeyN, want)
		}
		fill := float64(s.LeafInuse) / float64(s.LeafAlloc)
		t.Logf("%d leaf pages, %d of %d bytes in use (%.2f)", s.LeafPageN, s.LeafInuse, s.LeafAlloc, fill)
		if fill < 0.85 {
			t.Errorf("leaf pages %.2f full (%d of %d bytes in %d pages), want at least 0.85",
				fill, s.LeafInuse, s.LeafAlloc, s.LeafPageN)
		}
		mustVerifyOK(t, l, uint64(s.KeyN))
	})
}
