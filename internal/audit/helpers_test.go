package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// openDB opens a fresh bbolt file under dir; the test closes it at the end.
func openDB(t testing.TB, path string, readOnly bool) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second, ReadOnly: readOnly})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// journalHere in Options.Journal asks newLog for a journal beside the new node.db.
const journalHere = "<beside node.db>"

// mode is one way of making entries durable; tests that hold for both run once per mode.
type mode struct {
	name    string
	journal string // Options.Journal
}

var modes = []mode{{"db", ""}, {"journal", journalHere}}

// forModes runs test once without and once with a journal.
func forModes(t *testing.T, test func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { test(t, m) })
	}
}

// opts returns o with the mode's journal setting.
func (m mode) opts(o Options) Options {
	o.Journal = m.journal
	return o
}

// newLog opens a log with a fake clock on a new file and returns both plus the file's path. With
// Journal set to journalHere, the journal is audit.journal in the same directory.
func newLog(t testing.TB, opts Options) (*Log, *bbolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.db")
	db := openDB(t, path, false)
	if opts.Now == nil {
		opts.Now = fakeClock()
	}
	if opts.Journal == journalHere {
		opts.Journal = filepath.Join(filepath.Dir(path), "audit.journal")
	}
	l, err := Open(db, opts)
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, db, path
}

// fakeClock ticks one second per call from a fixed start, so entry times are predictable.
func fakeClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// searchEntry is a typical entry for the n-th search.
func searchEntry(n int) Entry {
	return Entry{
		TokenID:   "a1b2c3d4e5f6",
		Agency:    "FR-NCB",
		Country:   "FR",
		Action:    ActionSearch,
		Query:     json.RawMessage(fmt.Sprintf(`{"serial": "AB%05d", "make": "Glock"}`, n)),
		ResultIDs: []string{fmt.Sprintf("FR-2019-%06d", n)},
		Outcome:   OutcomeOK,
	}
}

// appendN appends n entries through the group-commit path and waits for each.
func appendN(t testing.TB, l *Log, n int) []Entry {
	t.Helper()
	out := make([]Entry, 0, n)
	for i := range n {
		e, err := l.Append(searchEntry(i)).Wait(context.Background())
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

// mustVerifyOK fails the test unless the chain is intact with want entries.
func mustVerifyOK(t testing.TB, l *Log, want uint64) Report {
	t.Helper()
	r, err := l.Verify()
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !r.OK() || r.Entries != want {
		t.Fatalf("verify: entries %d (want %d), problems %+v", r.Entries, want, r.Problems)
	}
	return r
}

// stall holds the writer at its next commit, as a slow fsync would, until release is called:
// without a journal by holding node.db's write lock, with one by blocking before the journal sync.
func stall(t testing.TB, l *Log, db *bbolt.DB) (release func()) {
	t.Helper()
	if l.j == nil {
		tx, err := db.Begin(true)
		if err != nil {
			t.Fatal(err)
		}
		return func() { tx.Rollback() }
	}
	gate := make(chan struct{})
	l.j.beforeSync = func() { <-gate }
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// settled folds l's journal, if any, so that node.db holds every acknowledged entry.
func settled(t testing.TB, l *Log) {
	t.Helper()
	if err := l.settle(); err != nil {
		t.Fatalf("fold journal: %v", err)
	}
}
