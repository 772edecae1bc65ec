package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
)

// BenchmarkAppend compares group commit (Append+Wait) with one db.Update per entry on a real file,
// for one client and for several concurrent ones. Every variant makes each entry durable (fsync)
// before the client goes on, so the ratio is the gain from sharing commits.
func BenchmarkAppend(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("group/clients=%d", clients), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "node.db")
			db := openDB(b, path, false)
			l, err := Open(db, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			before := l.Commits()
			runClients(b, clients, func(i int) error {
				_, err := l.Append(searchEntry(i)).Wait(context.Background())
				return err
			})
			b.ReportMetric(float64(b.N)/float64(l.Commits()-before), "entries/commit")
		})
		b.Run(fmt.Sprintf("naive/clients=%d", clients), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "node.db")
			db := openDB(b, path, false)
			l, err := Open(db, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			runClients(b, clients, func(i int) error {
				e := searchEntry(i)
				return db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) })
			})
		})
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
