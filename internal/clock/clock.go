// Package clock is the time a node reads: the wall clock in production, a fake one that tests move
// by hand, so deadlines, windows, staleness and backoff are tested without sleeping.
//
// It imports nothing of fedarms; node and node/notify take their time from it.
package clock

import "time"

// Clock tells the time and makes the timers a node's loops wait on.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
	// NewTicker sends the time on its channel every d, dropping ticks a slow reader misses.
	NewTicker(d time.Duration) *Ticker
}

// Ticker delivers ticks on C until it is stopped.
type Ticker struct {
	C    <-chan time.Time
	stop func()
}

// Stop ends the ticks; no tick is sent after it returns.
func (t *Ticker) Stop() { t.stop() }

// Real is the wall clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) *Ticker {
	t := time.NewTicker(d)
	return &Ticker{C: t.C, stop: t.Stop}
}
