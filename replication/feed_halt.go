package replication

import (
	"fmt"
	"time"
)

// A fed holder halts, as a raft copy does (halt.go), when an entry cannot be applied for a reason
// that is not its source's fault: the entry is of a command format this release does not read, or
// the state file cannot be written. The copy is then served as it was and reported halted with the
// reason (/v1/shards, health) instead of silently growing stale. It goes on asking, slowly: a
// format halt ends when a release that reads the format restarts the node, or at once if the entry
// came from a hostile source and another serves what the voters committed; a write halt ends when
// a write succeeds.

// formatFault is an entry of a command format this release does not read.
type formatFault struct {
	index uint64
	err   *VersionError
}

func (f *formatFault) Error() string { return fmt.Sprintf("entry %d: %v", f.index, f.err) }

func (f *formatFault) Unwrap() error { return f.err }

// writeFault is a batch that proved out but could not be written to the state file.
type writeFault struct {
	index uint64
	err   error
}

func (f *writeFault) Error() string {
	return fmt.Sprintf("write of the entries from %d to the state file: %v", f.index, f.err)
}

func (f *writeFault) Unwrap() error { return f.err }

// Halted reports whether the holder has stopped applying entries, and why.
func (h *Holder) Halted() (Halt, bool) { return h.halt.get() }

// haltOn starts (or updates) the halt err calls for, if it is a format or write fault, and reports
// whether it did.
func (h *Holder) haltOn(err error, now time.Time) bool {
	switch f := err.(type) {
	case *formatFault:
		if _, was := h.halt.get(); !was {
			h.log.Error("fed shard halted: an entry is of a command format this release does not read", "index", f.index, "error", f.err)
		}
		h.halt.setFormat(f.Error(), f.index, f.err.Found, now)
	case *writeFault:
		if _, was := h.halt.get(); !was {
			h.log.Error("fed shard halted: the state file cannot be written", "index", f.index, "error", f.err)
		}
		h.halt.set(f.Error(), f.index, now)
	default:
		return false
	}
	return true
}

// resumed ends a halt once a batch or copy was applied.
func (h *Holder) resumed() {
	if _, was := h.halt.get(); was {
		h.halt.clear()
		h.log.Info("fed shard resumed applying entries")
	}
}
