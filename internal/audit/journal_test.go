package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/testutil"
)

// noFold keeps everything in the journal for the whole test, so what node.db holds is known.
var noFold = Options{Journal: journalHere, FoldEntries: 1 << 30, FoldInterval: time.Hour, JournalChunk: 64 << 10}

// stored is the highest sequence number node.db holds, read without folding anything.
func stored(t testing.TB, db *bbolt.DB) uint64 {
	t.Helper()
	var h head
	err := db.View(func(tx *bbolt.Tx) error {
		var err error
		h, _, err = readHead(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

func TestJournalAcknowledgesWithoutNodeDB(t *testing.T) {
	l, db, _ := newLog(t, noFold)
	// With node.db's write lock held by someone else, a journaled append still becomes durable.
	tx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := l.Append(searchEntry(1)).Wait(ctx)
	tx.Rollback()
	if err != nil || e.Seq != 1 {
		t.Fatalf("append while node.db is locked: %v %+v", err, e)
	}
	if got := stored(t, db); got != 0 {
		t.Fatalf("node.db holds entry %d before any fold", got)
	}
	// Readers still see it: Tail folds first.
	tail, err := l.Tail(1)
	if err != nil || len(tail) != 1 || tail[0].Hash != e.Hash {
		t.Fatalf("tail after append: %v %+v", err, tail)
	}
	if got := stored(t, db); got != 1 {
		t.Errorf("after Tail node.db holds %d entries, want 1", got)
	}
}

func TestJournalFoldPolicy(t *testing.T) {
	t.Run("backlog", func(t *testing.T) {
		l, db, _ := newLog(t, Options{Journal: journalHere, FoldEntries: 10, FoldInterval: time.Hour})
		appendN(t, l, 25)
		if got := stored(t, db); got != 20 {
			t.Errorf("node.db holds %d of 25 entries with a fold every 10, want 20", got)
		}
		if c := l.Stats().Commits; c != 25 {
			t.Errorf("%d commits for 25 sequential appends, want 25 (folds are not commits)", c)
		}
	})
	t.Run("interval", func(t *testing.T) {
		l, db, _ := newLog(t, Options{Journal: journalHere, FoldEntries: 1000, FoldInterval: 20 * time.Millisecond})
		appendN(t, l, 3)
		testutil.WaitFor(t, 5*time.Second, "the timed fold", func() bool { return stored(t, db) == 3 })
	})
}

func TestJournalAppendWithFoldsFirst(t *testing.T) {
	l, db, _ := newLog(t, noFold)
	before := appendN(t, l, 5)
	hit, err := l.AppendWith(searchEntry(5), putOutbox("hit-1")).Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if hit.Seq != 6 || hit.PrevHash != before[4].Hash {
		t.Fatalf("hit entry seq %d prev %s, want 6 after the journaled ones", hit.Seq, hit.PrevHash)
	}
	// The entry and its write are in node.db together, after everything acknowledged before.
	if got := stored(t, db); got != 6 {
		t.Fatalf("node.db holds %d entries after AppendWith, want 6", got)
	}
	if !inOutbox(t, db, "hit-1") {
		t.Fatal("the write made with the entry is missing")
	}
	after := appendN(t, l, 2)
	if after[0].Seq != 7 || after[0].PrevHash != hit.Hash {
		t.Errorf("entry after the hit: seq %d prev %s", after[0].Seq, after[0].PrevHash)
	}

	// A failing fn takes neither its entry nor its write, and loses none of the journaled entries.
	boom := errors.New("disk full")
	_, err = l.AppendWith(searchEntry(9), func(tx *bbolt.Tx) error {
		putOutbox("hit-2")(tx)
		return boom
	}).Wait(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("want the fn's error, got %v", err)
	}
	if inOutbox(t, db, "hit-2") {
		t.Error("write of a failed commit is present")
	}
	next, err := l.Append(searchEntry(10)).Wait(context.Background())
	if err != nil || next.Seq != 9 || next.PrevHash != after[1].Hash {
		t.Fatalf("entry after the failed one: %v seq %d", err, next.Seq)
	}
	mustVerifyOK(t, l, 9)
}

func putOutbox(key string) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("outbox"))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte("{}"))
	}
}

func inOutbox(t testing.TB, db *bbolt.DB, key string) bool {
	t.Helper()
	found := false
	db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte("outbox")); b != nil {
			found = b.Get([]byte(key)) != nil
		}
		return nil
	})
	return found
}

func TestJournalAppendTxFoldsIntoCallersTx(t *testing.T) {
	l, db, _ := newLog(t, noFold)
	before := appendN(t, l, 3)
	e := searchEntry(3)
	if err := db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) }); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 || e.PrevHash != before[2].Hash {
		t.Fatalf("AppendTx entry seq %d prev %s, want 4 after the journaled ones", e.Seq, e.PrevHash)
	}
	if got := stored(t, db); got != 4 {
		t.Fatalf("node.db holds %d entries, want the 3 journaled ones folded with the 4th", got)
	}
	next := appendN(t, l, 1)[0]
	if next.Seq != 5 || next.PrevHash != e.Hash {
		t.Fatalf("journaled entry after AppendTx: seq %d prev %s", next.Seq, next.PrevHash)
	}
	mustVerifyOK(t, l, 5)
}

// TestJournalConcurrentMix drives every append path and the readers at once (run it with -race):
// the chain must come out contiguous and every hit's write must be there.
func TestJournalConcurrentMix(t *testing.T) {
	const clients, each = 6, 40
	l, db, _ := newLog(t, Options{Journal: journalHere, FoldEntries: 16, FoldInterval: time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	var mu sync.Mutex
	seqs := map[uint64]bool{}
	record := func(e Entry) {
		mu.Lock()
		defer mu.Unlock()
		if seqs[e.Seq] {
			errs <- fmt.Errorf("seq %d handed out twice", e.Seq)
		}
		seqs[e.Seq] = true
	}
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				n := c*each + i
				switch {
				case c == 0 && i%5 == 0:
					e := searchEntry(n)
					if err := db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) }); err != nil {
						errs <- err
						continue
					}
					record(e)
				case c == 1 && i%10 == 0:
					if _, err := l.Tail(3); err != nil {
						errs <- err
					}
				case i%7 == 0:
					e, err := l.AppendWith(searchEntry(n), putOutbox(fmt.Sprintf("hit-%d", n))).Wait(context.Background())
					if err != nil {
						errs <- err
						continue
					}
					if !inOutbox(t, db, fmt.Sprintf("hit-%d", n)) {
						errs <- fmt.Errorf("hit %d acknowledged without its write", n)
					}
					record(e)
				default:
					e, err := l.Append(searchEntry(n)).Wait(context.Background())
					if err != nil {
						errs <- err
						continue
					}
					record(e)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustVerifyOK(t, l, uint64(len(seqs)))
	for s := uint64(1); s <= uint64(len(seqs)); s++ {
		if !seqs[s] {
			t.Errorf("seq %d never handed out", s)
		}
	}
}

func TestJournalRewindsAndCloseEmpties(t *testing.T) {
	l, db, path := newLog(t, Options{Journal: journalHere, FoldEntries: 8, FoldInterval: time.Hour, JournalChunk: 64 << 10})
	jpath := filepath.Join(filepath.Dir(path), "audit.journal")
	appendN(t, l, 500)
	// Folds every 8 entries let the writer go back to the start: the file never outgrows a chunk.
	if l.j.off > 8*2048 {
		t.Errorf("journal logical end %d after folding every 8 entries", l.j.off)
	}
	if st, err := os.Stat(jpath); err != nil || st.Size() != 64<<10 {
		t.Errorf("journal size %v %v, want one chunk", st.Size(), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(jpath); err != nil || st.Size() != 0 {
		t.Fatalf("journal after Close: %v %v, want empty", st.Size(), err)
	}
	mustVerifyOK(t, l, 500)
	l2, err := Open(db, Options{Journal: jpath})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if e := appendN(t, l2, 1)[0]; e.Seq != 501 {
		t.Errorf("first entry after reopening: seq %d", e.Seq)
	}
}

func TestJournalOneLogPerFile(t *testing.T) {
	l, db, path := newLog(t, Options{Journal: journalHere})
	other := filepath.Join(filepath.Dir(path), "other.journal")
	if _, err := Open(db, Options{Journal: other}); err == nil {
		t.Fatal("a second journaled log opened on the same file")
	}
	// The same journal on another node.db: the journal itself is claimed.
	db2 := openDB(t, filepath.Join(t.TempDir(), "node.db"), false)
	if _, err := Open(db2, Options{Journal: filepath.Join(filepath.Dir(path), "audit.journal")}); err == nil {
		t.Fatal("a second log opened on the same journal")
	}
	appendN(t, l, 2)
	mustVerifyOK(t, l, 2)
	// Once the first log is closed, its claim no longer holds.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(db, Options{Journal: other})
	if err != nil {
		t.Fatalf("open after the first log closed: %v", err)
	}
	defer l2.Close()
	if e := appendN(t, l2, 1)[0]; e.Seq != 3 {
		t.Errorf("first entry of the second log: seq %d", e.Seq)
	}
}

func TestJournalWriteFailureFallsBackToNodeDB(t *testing.T) {
	l, db, _ := newLog(t, noFold)
	appendN(t, l, 3)
	// The disk under the journal fails: the batch must still become durable, in node.db.
	l.j.beforeSync = func() { l.j.f.Close() }
	e, err := l.Append(searchEntry(3)).Wait(context.Background())
	if err != nil || e.Seq != 4 {
		t.Fatalf("append when the journal fails: %v %+v", err, e)
	}
	if got := stored(t, db); got != 4 {
		t.Fatalf("node.db holds %d entries after the fallback, want 4", got)
	}
	appendN(t, l, 2)
	if got := stored(t, db); got != 6 {
		t.Errorf("later entries not committed to node.db: head %d", got)
	}
	if err := l.Close(); err == nil {
		t.Error("Close reported nothing although the journal failed")
	}
	mustVerifyOK(t, l, 6)
}
