package replication

import (
	"fmt"
	"sync"
	"time"
)

// A shard halts on this node when an entry cannot be applied for a reason that is not the entry's
// fault and would not be the same on every replica: its state file cannot be written (disk full,
// I/O error), or the entry is in a format this release does not read. Skipping the entry would let
// this copy diverge from the others for good; panicking would stop every shard of the node and
// panic again on every restart. Halting stops only this shard's applies: raft goes on receiving
// and storing entries, reads are served from the copy as it is, writes are refused (ErrHalted),
// and a leader hands its leadership to another voter. A storage halt is retried with backoff and
// ends by itself when the write succeeds; a format halt ends when a release that reads the format
// restarts the node and replays the log from the state's applied index.

// Halt says why a shard stopped applying entries on this node.
type Halt struct {
	Reason string
	Since  time.Time
	Index  uint64 // the first entry not applied
	// NeedsCommandFormat is the command format of that entry when this release does not read it
	// (0: the halt has another cause): a release that reads it resumes the shard.
	NeedsCommandFormat byte
	// DivergedTo is, when this copy applied entries the group's current history does not hold
	// (diverge.go), the last of them; Index is then the first. 0: the halt has another cause.
	DivergedTo uint64
}

// halter holds a shard's halt and the signal that the group is closing, which ends any wait.
type halter struct {
	mu      sync.Mutex // guards cur, handOff
	cur     *Halt
	handOff func() // asks raft to move leadership elsewhere; set once raft runs
	closing chan struct{}
	once    sync.Once
}

func newHalter() *halter { return &halter{closing: make(chan struct{})} }

// set starts a halt or updates its reason (keeping when it started).
func (h *halter) set(reason string, index uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		h.cur = &Halt{Since: now}
	}
	h.cur.Reason, h.cur.Index = reason, index
}

// setFormat starts a halt on an entry this release cannot apply; needs is the command format it
// needs, 0 for a damaged entry.
func (h *halter) setFormat(reason string, index uint64, needs byte, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		h.cur = &Halt{Since: now}
	}
	h.cur.Reason, h.cur.Index, h.cur.NeedsCommandFormat = reason, index, needs
}

// setDiverged starts a halt on a copy that applied entries from to to that the group's history
// no longer holds.
func (h *halter) setDiverged(reason string, from, to uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		h.cur = &Halt{Since: now}
	}
	h.cur.Reason, h.cur.Index, h.cur.DivergedTo = reason, from, to
}

func (h *halter) clear() {
	h.mu.Lock()
	h.cur = nil
	h.mu.Unlock()
}

func (h *halter) get() (Halt, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		return Halt{}, false
	}
	return *h.cur, true
}

func (h *halter) setHandOff(fn func()) {
	h.mu.Lock()
	h.handOff = fn
	h.mu.Unlock()
}

// handOffLeadership asks raft to move leadership away when this node leads (the function does
// nothing otherwise and runs in its own goroutine: raft's FSM goroutine must not wait on it).
func (h *halter) handOffLeadership() {
	h.mu.Lock()
	fn := h.handOff
	h.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// close ends every wait; the group calls it before shutting raft down, which waits for the FSM.
func (h *halter) close() { h.once.Do(func() { close(h.closing) }) }

func (h *halter) closed() bool {
	select {
	case <-h.closing:
		return true
	default:
		return false
	}
}

// wait sleeps d, or less when the group closes; it reports whether the group is still open.
func (h *halter) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-h.closing:
		return false
	case <-t.C:
		return true
	}
}

// writeFaults makes the next writes of a store fail, as a full disk would: a seam for fault drills
// and tests (State.InjectWriteFaults, Control.InjectWriteFaults).
type writeFaults struct {
	mu  sync.Mutex // guards n, err
	n   int
	err error
}

func (f *writeFaults) inject(n int, err error) {
	f.mu.Lock()
	f.n, f.err = n, err
	f.mu.Unlock()
}

// take uses up one injected fault: the error a write of path fails with, or nil.
func (f *writeFaults) take(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n <= 0 {
		return nil
	}
	f.n--
	return fmt.Errorf("write state %s: %w", path, f.err)
}
