package testutil

import (
	"testing"
	"time"
)

// pollEvery bounds the pause between two checks of a condition: short enough that a test goes on
// soon after the condition holds, long enough that a condition asking every node of a federation
// does not keep the machine busy. The first checks come faster, for conditions that hold at once.
const pollEvery = 10 * time.Millisecond

// WaitFor polls cond until it holds and returns how long that took, or fails the test once timeout
// has passed, naming what it waited for. In-process federations are slow on a loaded machine, so
// callers pass generous timeouts; a test never sleeps instead.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	took, ok := poll(timeout, cond)
	if !ok {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
	return took
}

// Eventually polls cond until it holds (true) or timeout passes (false): WaitFor for a test that
// goes on either way.
func Eventually(timeout time.Duration, cond func() bool) bool {
	_, ok := poll(timeout, cond)
	return ok
}

func poll(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	t0 := time.Now()
	pause := time.Millisecond
	for !cond() {
		if time.Since(t0) > timeout {
			return time.Since(t0), false
		}
		time.Sleep(pause)
		pause = min(2*pause, pollEvery)
	}
	return time.Since(t0), true
}
