package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a clock that moves only when told (Advance, Set). Timers and tickers fire, in time order,
// when the clock passes their time; like the wall clock's, a ticker whose reader lags drops ticks.
type Fake struct {
	mu      sync.Mutex // guards everything below
	now     time.Time
	waiters []*waiter
}

// waiter is one pending After or Ticker.
type waiter struct {
	at    time.Time
	every time.Duration // 0 for After
	c     chan time.Time
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now is the fake's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After fires once the fake has been moved d forward (at once when d <= 0).
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		w.c <- f.now
		return w.c
	}
	f.waiters = append(f.waiters, w)
	return w.c
}

// NewTicker ticks each time the fake passes another d; d must be positive, as for time.NewTicker.
func (f *Fake) NewTicker(d time.Duration) *Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{at: f.now.Add(d), every: d, c: make(chan time.Time, 1)}
	f.waiters = append(f.waiters, w)
	return &Ticker{C: w.c, stop: func() { f.remove(w) }}
}

// Waiters is the number of pending timers and tickers: a test waits until a loop has started
// waiting before it moves the clock.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Advance moves the fake d forward, firing what falls due on the way.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveTo(f.now.Add(d))
}

// Set moves the fake to t. Moving back fires nothing; timers keep their times.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveTo(t)
}

// moveTo fires the due waiters in time order, each at its own time, then sets the time to t.
// Called with mu held; sends never block (the channels hold one tick, and a full one drops it).
func (f *Fake) moveTo(t time.Time) {
	for {
		sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
		if len(f.waiters) == 0 || f.waiters[0].at.After(t) {
			break
		}
		w := f.waiters[0]
		if w.at.After(f.now) {
			f.now = w.at
		}
		select {
		case w.c <- w.at:
		default:
		}
		if w.every == 0 {
			f.waiters = f.waiters[1:]
			continue
		}
		// A ticker passed by more than one interval fires once, like a wall-clock ticker whose
		// reader was busy, and is due again at its next multiple after t.
		for !w.at.After(t) {
			w.at = w.at.Add(w.every)
		}
	}
	f.now = t
}

func (f *Fake) remove(w *waiter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.waiters {
		if x == w {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			return
		}
	}
}
