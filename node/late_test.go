package node

import (
	"fmt"
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.searches) != 100 || len(w.seen) != 100 || len(w.order) != 100 || w.ix.Len() != 100 {
		t.Fatalf("window holds %d searches, %d seen sets, %d in order, %d indexed; want 100 each",
			len(w.searches), len(w.seen), len(w.order), w.ix.Len())
	}
	if _, ok := w.searches["s-899"]; ok {
		t.Fatal("an old search was kept")
	}
	if _, ok := w.searches["s-999"]; !ok {
		t.Fatal("the newest search was forgotten")
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
