package testutil

import (
	"testing"
	"time"
)

// recorder is a testing.TB that records a failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	_ = args
}

func TestWaitFor(t *testing.T) {
	n := 0
	took := WaitFor(t, 5*time.Second, "the third check", func() bool { n++; return n == 3 })
	if n != 3 || took <= 0 || took > time.Second {
		t.Errorf("checked %d times in %v, want 3 quick checks", n, took)
	}
	r := &recorder{TB: t}
	t0 := time.Now()
	WaitFor(r, 30*time.Millisecond, "nothing", func() bool { return false })
	if r.failed == "" {
		t.Error("a condition that never holds did not fail the test")
	}
	if waited := time.Since(t0); waited < 30*time.Millisecond || waited > 2*time.Second {
		t.Errorf("gave up after %v, want about 30 ms", waited)
	}
}

func TestEventually(t *testing.T) {
	if !Eventually(time.Second, func() bool { return true }) {
		t.Error("a condition that holds at once was not seen")
	}
	deadline := time.Now().Add(20 * time.Millisecond)
	if !Eventually(5*time.Second, func() bool { return time.Now().After(deadline) }) {
		t.Error("a condition that holds after 20 ms was not seen")
	}
	if Eventually(20*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds was reported held")
	}
}
