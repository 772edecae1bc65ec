package clock

import (
	"testing"
	"time"
)

var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fired reports whether c holds a value now, and which.
func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestFakeAfterFiresOnlyWhenItsTimeIsPassed(t *testing.T) {
	f := NewFake(start)
	c := f.After(time.Second)
	f.Advance(999 * time.Millisecond)
	if _, ok := fired(c); ok {
		t.Fatal("fired before its time")
	}
	f.Advance(time.Millisecond)
	at, ok := fired(c)
	if !ok || !at.Equal(start.Add(time.Second)) {
		t.Fatalf("fired %v at %v, want at %v", ok, at, start.Add(time.Second))
	}
	if f.Waiters() != 0 {
		t.Fatalf("%d waiters left after the timer fired", f.Waiters())
	}
	if _, ok := fired(f.After(0)); !ok {
		t.Fatal("After(0) did not fire at once")
	}
}

func TestFakeTickerDropsMissedTicksAndStops(t *testing.T) {
	f := NewFake(start)
	tk := f.NewTicker(time.Second)
	f.Advance(3500 * time.Millisecond) // three ticks due, the reader reads none: one is kept
	at, ok := fired(tk.C)
	if !ok || !at.Equal(start.Add(time.Second)) {
		t.Fatalf("first tick %v at %v", ok, at)
	}
	if _, ok := fired(tk.C); ok {
		t.Fatal("missed ticks were queued")
	}
	f.Advance(500 * time.Millisecond) // the next is due at 4 s
	if at, ok := fired(tk.C); !ok || !at.Equal(start.Add(4*time.Second)) {
		t.Fatalf("tick after catching up: %v at %v", ok, at)
	}
	tk.Stop()
	f.Advance(time.Hour)
	if _, ok := fired(tk.C); ok || f.Waiters() != 0 {
		t.Fatalf("a stopped ticker ticked (%v) or is still waiting (%d)", ok, f.Waiters())
	}
}

func TestFakeFiresInTimeOrderAndReadsTheirTime(t *testing.T) {
	f := NewFake(start)
	late, early := f.After(2*time.Second), f.After(time.Second)
	f.Advance(time.Minute)
	a, _ := fired(early)
	b, _ := fired(late)
	if !a.Equal(start.Add(time.Second)) || !b.Equal(start.Add(2*time.Second)) || !f.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("early %v late %v now %v", a, b, f.Now())
	}
	f.Set(start) // back: nothing fires, the time reads what was set
	if !f.Now().Equal(start) {
		t.Fatalf("after Set back: %v", f.Now())
	}
}

func TestRealTicks(t *testing.T) {
	var c Clock = Real{}
	tk := c.NewTicker(time.Millisecond)
	defer tk.Stop()
	<-tk.C
	<-c.After(time.Millisecond)
	if time.Since(c.Now()) < 0 {
		t.Fatal("the real clock reads the future")
	}
}
