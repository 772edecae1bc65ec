package replication

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A copy announced larger than the holder's disk can take is not begun: nothing is written for it,
// the holder says why, and the source is skipped rather than dropped. Once the space is there, the
// same source's copy is taken.
func TestFeedCopyThatDoesNotFitIsNotTaken(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 6000, 500)
	c.waitCompacted()
	var small atomic.Bool
	small.Store(true)
	old := freeSpace
	freeSpace = func(string) (uint64, error) {
		if small.Load() {
			return copyReserve + 1024, nil
		}
		return 1 << 40, nil
	}
	t.Cleanup(func() { freeSpace = old })
	var logs syncBuffer
	h := c.holder("edge", func(hc *HolderConfig) {
		hc.Centrals = func() []string { return nil }
		hc.Away = 100 * time.Millisecond
		hc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, "n3")
	testutil.WaitFor(t, 20*time.Second, "the holder to say the copy does not fit", func() bool {
		return strings.Contains(logs.String(), "does not fit")
	})
	if files, _ := filepath.Glob(filepath.Join(h.cfg.Dir, partialCopyDir, "*")); len(files) != 0 {
		t.Fatalf("a copy that does not fit was begun: %v", files)
	}
	if len(h.Dropped()) != 0 {
		t.Fatalf("the source was dropped for a disk the holder lacks: %v", h.Dropped())
	}
	small.Store(false)
	c.waitHolders("the holder to take the copy once it fits")
}
