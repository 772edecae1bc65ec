package node

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/wire"
)

// A node keeps headroom on the disk of its data dir: below limits.min_free_bytes it refuses record
// writes (503 insufficient_storage) and reports health degraded, so the disk is seldom full when an
// entry must be applied (a full disk halts the shard, see replication/halt.go). The free space is
// read at most once a second, not per write.

// headroomEvery is how long one reading of the free space is trusted.
const headroomEvery = time.Second

// headroom caches the free space of the data dir; Open sets its clock.
type headroom struct {
	clock clock.Clock
	// statfs reads the free bytes of the file system holding dir; nil is syscall.Statfs (tests
	// replace it to emulate a full disk).
	statfs func(dir string) (uint64, error)
	mu     sync.Mutex // guards the fields below
	read   time.Time  // when free and err were read
	free   uint64
	err    error
}

// freeBytes is the free space of dir, read again when the last reading is older than a second.
func (h *headroom) freeBytes(dir string) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := h.clock.Now(); now.Sub(h.read) >= headroomEvery {
		stat := h.statfs
		if stat == nil {
			stat = statfsFree
		}
		h.free, h.err = stat(dir)
		h.read = now
	}
	return h.free, h.err
}

func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// diskLow reports whether the data dir is below its free-space floor, and says so. A failed
// reading does not refuse writes: the write itself will tell.
func (n *Node) diskLow() (string, bool) {
	floor := n.cfg.Limits.MinFreeBytes
	if floor <= 0 {
		return "", false
	}
	free, err := n.disk.freeBytes(n.cfg.DataDir)
	if err != nil || free >= uint64(floor) {
		return "", false
	}
	return fmt.Sprintf("data dir %s has %d MiB free, below limits.min_free_bytes (%d MiB)", n.cfg.DataDir, free>>20, floor>>20), true
}

// checkHeadroom refuses a record write when the data dir is below its floor.
func (n *Node) checkHeadroom() error {
	if msg, low := n.diskLow(); low {
		return (&wire.Error{Kind: wire.Unavailable, Code: "insufficient_storage", Message: msg + "; free space on this node, then retry"}).Retry(30)
	}
	return nil
}
