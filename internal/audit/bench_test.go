package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
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
			runClients(b, clients, b.N, func(i int) error {
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
	runClients(b, clients, b.N, func(i int) error {
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

// runClients splits n appends over clients goroutines, client c making appends c, c+clients, ...,
// and fails on the first error.
func runClients(b *testing.B, clients, n int, appendOne func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
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

// BenchmarkScreening appends entries the way a bulk screening does (node/batch.go auditChunk):
// groups of 64 search entries of realistic size (a query of about 150 bytes, 10 result ids), half
// of the groups with an fn writing a notification-sized value in the same commit, 8 workers each
// waiting for its group, with a journal (sync durability) on a real file opened with the node's
// bbolt options. b.N counts entries. Wall time includes the syncs; cpu-µs/entry is the process's
// user+system time per entry, the figure a screening's rate depends on. db-KiB/entry is node.db's
// used size (high-water mark less free pages) once everything is folded, pwrites/entry and
// db-KiB-written/entry what bbolt wrote to get there.
//
// "sealed" is an encrypted data dir (the node's default), "plain" one without a key.
//
//	go test -run XXX -bench Screening -benchtime 64000x ./internal/audit/
func BenchmarkScreening(b *testing.B) {
	key, err := atrest.NewKey(atrest.Generate())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) { benchScreening(b, nil) })
	b.Run("sealed", func(b *testing.B) { benchScreening(b, key) })
}

func benchScreening(b *testing.B, key *atrest.Key) {
	const group, workers = 64, 8
	dir := b.TempDir()
	db, err := bbolt.Open(filepath.Join(dir, "node.db"), 0o600,
		&bbolt.Options{Timeout: 5 * time.Second, FreelistType: bbolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("hits"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	l, err := Open(db, Options{Journal: filepath.Join(dir, "audit.journal"), Key: key})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	hit := bytes.Repeat([]byte("n"), 700)
	// Entries are built before the clock starts: the figures are the log's work, not fmt's.
	lines := make([]Entry, 1024)
	for i := range lines {
		lines[i] = screenedEntry(i)
	}
	groups := (b.N + group - 1) / group
	before, cpu0 := db.Stats(), cpuTime()
	bufs := make([][]Entry, workers) // one per worker: runClients gives worker w the groups w, w+workers, ...
	runClients(b, workers, groups, func(g int) error {
		es := bufs[g%workers][:0]
		for i := g * group; i < min(b.N, (g+1)*group); i++ {
			es = append(es, lines[i%len(lines)])
		}
		bufs[g%workers] = es
		var fn func(*bbolt.Tx) error
		if g%2 == 0 {
			id := fmt.Appendf(nil, "h-%08x-%04x", uint32(g)*2654435761, g)
			fn = func(tx *bbolt.Tx) error { return tx.Bucket([]byte("hits")).Put(id, hit) }
		}
		_, err := l.AppendGroup(es, fn).Wait(context.Background())
		return err
	})
	if err := l.settle(); err != nil { // the last fold's work counts, not its time
		b.Fatal(err)
	}
	cpu := cpuTime() - cpu0
	after := db.Stats()
	var used int64
	if err := db.View(func(tx *bbolt.Tx) error {
		used = tx.Size() - int64(after.FreePageN+after.PendingPageN)*int64(db.Info().PageSize)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/entry")
	b.ReportMetric(float64(used)/1024/n, "db-KiB/entry")
	d := after.TxStats.Sub(&before.TxStats)
	b.ReportMetric(float64(d.GetWrite())/n, "pwrites/entry")
	b.ReportMetric(float64(d.GetPageAlloc())/1024/n, "db-KiB-written/entry")
}

// screenedEntry is a screened line's entry: the node's query (search id, batch id and the search
// request, about 150 bytes) and ten result ids.
func screenedEntry(n int) Entry {
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("FR-2019-%06d", (n*7+i*131)%1000000)
	}
	return Entry{
		TokenID: "t-5f2a9c41d7e3", Agency: "FR-CUSTOMS", Country: "FR", Action: ActionSearch,
		Query: json.RawMessage(fmt.Sprintf(`{"search_id":"s-%012x","batch":"b-3f9a1c","serial":"WA%07d",`+
			`"make":"Beretta","model":"92FS","calibre":"9mm","type":"pistol","limit":10}`, n*2654435761, n)),
		ResultIDs: ids, Outcome: OutcomeOK,
	}
}

// cpuTime is the process's user plus system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSeal is the writer's work per entry before bbolt: validating a queued entry (done by
// the caller) and sealing it after the head (canonical encoding, chain hash, stored value).
//
//	go test -run XXX -bench Seal ./internal/audit/
func BenchmarkSeal(b *testing.B) {
	e := screenedEntry(7)
	prev := head{Seq: 41, Hash: chainHash("", []byte("x"))}
	now := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		v := e
		if err := validate(&v); err != nil {
			b.Fatal(err)
		}
		if _, _, err := sealValid(v, prev, now); err != nil {
			b.Fatal(err)
		}
	}
}
