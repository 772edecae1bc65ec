package node

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/fedarms/fedarms/node/wire"
)

// The window stays bounded: remembering past max forgets the oldest search together with what it
// had already answered, so nothing grows without bound however many searches a node serves.
func TestLateWindowStaysBounded(t *testing.T) {
	w := newLateWindow(72*time.Hour, 100)
	defer w.close()
	close(w.loaded)
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		w.remember(rememberedSearch{ID: fmt.Sprintf("s-%d", i), At: at, Req: wire.SearchRequest{Serial: fmt.Sprintf("AB%06d", i)}},
			[]string{"FR-1", "FR-2", fmt.Sprintf("FR-%d", i)})
	}
	w.sync()
	w.mu.Lock()
	n, seen, others, queries, indexed := w.n, len(w.seen), len(w.otherIDs), len(w.queries), w.ix.Len()
	w.mu.Unlock()
	if n != 100 || seen != 100 || others != 100 || queries != 100 || indexed != 100 {
		t.Fatalf("window holds %d searches, %d seen sets, %d ids, %d queries, %d indexed; want 100 each",
			n, seen, others, queries, indexed)
	}
	if _, ok := w.search("s-899"); ok {
		t.Fatal("an old search was kept")
	}
	if s, ok := w.search("s-999"); !ok || s.Req.Serial != "AB000999" {
		t.Fatalf("the newest search was forgotten or changed: %+v", s)
	}
}

// BenchmarkLateWindowRememberFull measures remembering a search when the window is full (each
// remember forgets the oldest), against the window's own size so a ratio can be read.
func BenchmarkLateWindowRememberFull(b *testing.B) {
	for _, size := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("window=%d", size), func(b *testing.B) {
			w := newLateWindow(72*time.Hour, size)
			defer w.close()
			close(w.loaded)
			at := time.Now()
			for i := 0; i < size; i++ {
				w.remember(rememberedSearch{ID: fmt.Sprintf("w-%d", i), At: at, Req: wire.SearchRequest{Serial: fmt.Sprintf("W%07d", i)}}, []string{"X"})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.remember(rememberedSearch{ID: fmt.Sprintf("b-%d", i), At: at, Req: wire.SearchRequest{Serial: fmt.Sprintf("B%07d", i)}}, []string{"X"})
			}
		})
	}
}

// rememberDistinct remembers n searches with distinct serials, ids as the node makes them, one in
// a hundred having found a record (as with 99% unrecorded serials).
func rememberDistinct(w *lateWindow, from, n int) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for j := from; j < from+n; j++ {
		var found []string
		if j%100 == 0 {
			found = []string{fmt.Sprintf("FR-%08d", j)}
		}
		w.remember(rememberedSearch{ID: newID("s"), At: at, Agency: "FR-NCB",
			Req: wire.SearchRequest{Serial: fmt.Sprintf("NX%08dQ", j), Make: "Beretta"}}, found)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The window's memory is bounded by its size, not by how many searches it has seen: after twenty
// times its size in distinct searches its index holds at most about twice the live queries, and
// (FEDARMS_MEASURE_HEAP=1, the test alone) the heap holds what it held after two. (The matcher never frees
// what Delete removes; a window that kept one index and deleted its oldest search from it grew by
// ~700 bytes a search for ever: 8x here.)
func TestLateWindowMemoryBounded(t *testing.T) {
	const size = 4000
	base := liveHeap()
	w := newLateWindow(72*time.Hour, size)
	defer w.close()
	close(w.loaded)
	rememberDistinct(w, 0, 2*size)
	w.ix.wait()
	early := liveHeap() - base
	rememberDistinct(w, 2*size, 18*size)
	w.ix.wait()
	late := liveHeap() - base
	if w.len() != size {
		t.Fatalf("window holds %d searches, want %d", w.len(), size)
	}
	t.Logf("after %d searches: %d KB; after %d: %d KB", 2*size, int64(early)>>10, 20*size, int64(late)>>10)
	w.mu.Lock()
	held, live := w.ix.held(), len(w.queries)
	w.mu.Unlock()
	if held > 2*live+2*lateRebuildMin {
		t.Fatalf("the index holds up to %d entries for %d live queries", held, live)
	}
	// The heap is read only when asked: other tests of the package running beside this one move it.
	if os.Getenv("FEDARMS_MEASURE_HEAP") != "" && int64(late) > int64(early)+int64(early)/4 {
		t.Fatalf("the window grew from %d KB to %d KB while it held %d searches", early>>10, late>>10, size)
	}
	runtime.KeepAlive(w)
}

// BenchmarkLateWindowBytesPerSearch reports the live heap a remembered search costs in a full
// window of 100,000 (notify.late_max_searches' default), once filled (searches=1x) and after three
// times its size (3x: it has forgotten 200,000): distinct serials throughout, and the same 20,000
// queries asked again and again (as scripts/bench-soak.sh's searchers do).
func BenchmarkLateWindowBytesPerSearch(b *testing.B) {
	const size = 100000
	for _, distinct := range []int{size, 20000} {
		for _, rounds := range []int{1, 3} {
			b.Run(fmt.Sprintf("distinct=%d/searches=%dx", distinct, rounds), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					before := liveHeap()
					w := newLateWindow(72*time.Hour, size)
					close(w.loaded)
					for r := 0; r < rounds; r++ {
						for j := 0; j < size; j += distinct {
							from := r*size + j // distinct serials throughout
							if distinct < size {
								from = 0 // the same queries again and again
							}
							rememberDistinct(w, from, distinct)
						}
					}
					w.ix.wait()
					after := liveHeap()
					b.ReportMetric(float64(after-before)/size, "B/search")
					runtime.KeepAlive(w)
					w.close()
				}
			})
		}
	}
}
