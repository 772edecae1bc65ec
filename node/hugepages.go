package node

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/hugepage"
)

// hugeMinMapping is the smallest heap mapping worth collapsing: the Go heap grows in 64 MiB arenas.
const hugeMinMapping = 64 << 20

// hugeEvery bounds how often the heap is collapsed: each pass copies most of it.
const hugeEvery = time.Minute

// hugePager backs the heap with huge pages in the background after the index was (re)built, when
// search.huge_pages is on. A pass that finds nothing to do, or a kernel that offers nothing, costs a
// read of /proc/self/maps.
type hugePager struct {
	on      bool        // search.huge_pages
	off     atomic.Bool // the kernel offers no huge pages: stop trying
	running atomic.Bool
	last    atomic.Int64 // unix nanoseconds of the last pass's start
	clock   clock.Clock
	log     *slog.Logger
}

// soon starts a pass unless one runs or ran within hugeEvery.
func (h *hugePager) soon(why string) {
	if h == nil || !h.on || h.off.Load() || h.clock.Now().Sub(time.Unix(0, h.last.Load())) < hugeEvery || !h.running.CompareAndSwap(false, true) {
		return
	}
	h.last.Store(h.clock.Now().UnixNano())
	go func() {
		defer h.running.Store(false)
		t0 := h.clock.Now()
		debug.FreeOSMemory() // what the heap no longer uses is returned, so it is not collapsed back in
		res, err := hugepage.Collapse(hugeMinMapping)
		if err != nil {
			h.log.Warn("huge pages not available; the index keeps 4 KiB pages", "error", err)
			h.off.Store(true)
			return
		}
		level := slog.LevelInfo
		if res.Collapsed == 0 && res.Failed == 0 {
			level = slog.LevelDebug // a small index: nothing to collapse, nothing to say
		}
		h.log.Log(context.Background(), level, "index memory on huge pages", "after", why, "collapsed_mb", res.Collapsed>>20,
			"refused_mb", res.Failed>>20, "sparse_mb", res.Sparse>>20, "took", h.clock.Now().Sub(t0).Round(time.Millisecond))
	}()
}
