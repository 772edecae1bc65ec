package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// BenchmarkAppend compares, on a real file, one db.Update per entry (naive), group commit into
// node.db (group) and group commit into the journal with folding into node.db (journal), for one
// client and for several concurrent ones. Every variant makes each entry durable before the client
// goes on, so the ratios are the gains from sharing syncs and from syncing a small append-only file
// instead of committing node.db.
//
//	go test -run XXX -bench Append -benchtime 2000x ./internal/audit/
func BenchmarkAppend(b *testing.B) {
	for _, clients := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("naive/clients=%d", clients), func(b *testing.B) {
			l, db, _ := newLog(b, Options{Now: time.Now})
			runClients(b, clients, func(i int) error {
				e := searchEntry(i)
				return db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) })
			})
		})
		for _, m := range modes {
			name := map[string]string{"db": "group", "journal": "journal"}[m.name]
			b.Run(fmt.Sprintf("%s/clients=%d", name, clients), func(b *testing.B) {
				benchGroup(b, clients, m.opts(Options{Now: time.Now}))
			})
		}
	}
}

// BenchmarkFold sweeps how many journaled entries wait before the writer folds them into node.db,
// with 4 clients: the cost of folding that lands on the appenders' path is the difference to
// "never" (no fold during the run).
//
//	go test -run XXX -bench Fold -benchtime 5000x ./internal/audit/
func BenchmarkFold(b *testing.B) {
	for _, n := range []int{16, 64, 512, 4096, 1 << 30} {
		name := fmt.Sprintf("fold_entries=%d", n)
		if n == 1<<30 {
			name = "fold_entries=never"
		}
		b.Run(name, func(b *testing.B) {
			benchGroup(b, 4, Options{Now: time.Now, Journal: journalHere, FoldEntries: n, FoldInterval: time.Hour})
		})
	}
}

// benchGroup runs clients concurrent Append+Wait loops and reports how many entries each durable
// batch and, with a journal, each fold carried.
func benchGroup(b *testing.B, clients int, opts Options) {
	l, _, _ := newLog(b, opts)
	commits, folds, foldNanos := l.Stats().Commits, l.folds.Load(), l.foldNanos.Load()
	runClients(b, clients, func(i int) error {
		_, err := l.Append(searchEntry(i)).Wait(context.Background())
		return err
	})
	b.ReportMetric(float64(b.N)/float64(l.Stats().Commits-commits), "entries/commit")
	if opts.Journal != "" {
		n := l.folds.Load() - folds
		b.ReportMetric(float64(n), "folds")
		// What folding cost the appenders: the writer folds between batches.
		b.ReportMetric(float64(l.foldNanos.Load()-foldNanos)/float64(b.N), "fold-ns/entry")
		if n > 0 {
			b.ReportMetric(float64(l.foldNanos.Load()-foldNanos)/float64(n)/1e3, "µs/fold")
		}
	}
}

// runClients splits b.N appends over clients goroutines and fails on the first error.
func runClients(b *testing.B, clients int, appendOne func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			for i := c; i < b.N; i += clients {
				if err := appendOne(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}
