package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A test cuts a pair through the federation's shared fault switch: the live connection goes at
// once, neither side can reconnect (even bypassing Host.NewStream), third parties are unaffected,
// and Heal restores the link.
func TestFaultsCutAndHealPair(t *testing.T) {
	f := newFed(t)
	f.faults = NewFaults(1)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleNCB, nil)
	c := f.start("c", RoleEdge, nil)
	for _, n := range []*node{a, b, c} {
		echo(t, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := roundTrip(ctx, a, b, []byte("before")); err != nil {
		t.Fatal(err)
	}

	f.faults.Cut(a.ident.ID, b.ident.ID)
	if a.host.Connected(b.ident.ID) {
		t.Fatal("a still connected to b after the cut")
	}
	if _, err := a.host.NewStream(ctx, b.ident.ID, ProtoMessage); !errors.Is(err, ErrCut) {
		t.Fatalf("stream across the cut: %v, want ErrCut", err)
	}
	if err := b.host.P2P().Connect(ctx, peer.AddrInfo{ID: a.ident.ID}); err == nil {
		t.Fatal("libp2p dial across the cut succeeded: the gater did not hold it")
	}
	if _, err := roundTrip(ctx, a, c, []byte("third party")); err != nil {
		t.Fatalf("a to c during the a-b cut: %v", err)
	}

	f.faults.Heal(a.ident.ID, b.ident.ID)
	if _, err := roundTrip(ctx, b, a, []byte("after")); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

func TestFaultsIsolateAndRejoin(t *testing.T) {
	f := newFed(t)
	f.faults = NewFaults(2)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleNCB, nil)
	c := f.start("c", RoleEdge, nil)
	for _, n := range []*node{a, b, c} {
		echo(t, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range []*node{a, b} {
		if _, err := roundTrip(ctx, c, n, []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	f.faults.Isolate(c.ident.ID)
	for _, n := range []*node{a, b} {
		if c.host.Connected(n.ident.ID) || n.host.Connected(c.ident.ID) {
			t.Fatalf("%s still connected to the isolated node", n.name)
		}
		if _, err := roundTrip(ctx, n, c, []byte("hi")); err == nil {
			t.Fatalf("%s reached the isolated node", n.name)
		}
	}
	if _, err := roundTrip(ctx, a, b, []byte("others")); err != nil {
		t.Fatalf("a to b during c's isolation: %v", err)
	}
	f.faults.Rejoin(c.ident.ID)
	if _, err := roundTrip(ctx, a, c, []byte("back")); err != nil {
		t.Fatalf("after rejoin: %v", err)
	}
}

func TestFaultsDropIsSeededAndDelayIsApplied(t *testing.T) {
	draws := func(seed uint64) []bool {
		fs := NewFaults(seed)
		fs.SetDrop(0.5)
		out := make([]bool, 64)
		for i := range out {
			out[i] = fs.dropNow()
		}
		return out
	}
	a, b, c := draws(7), draws(7), draws(8)
	same, dropped := true, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed gave different drops at %d", i)
		}
		if a[i] != c[i] {
			same = false
		}
		if a[i] {
			dropped++
		}
	}
	if same {
		t.Fatal("different seeds gave the same 64 drops")
	}
	if dropped < 16 || dropped > 48 {
		t.Fatalf("p=0.5 dropped %d of 64", dropped)
	}

	fs := NewFaults(3)
	for _, p := range []float64{0, -1} {
		fs.SetDrop(p)
		if fs.dropNow() {
			t.Fatalf("drop with p=%v", p)
		}
	}
	fs.SetDrop(1)
	if !fs.dropNow() {
		t.Fatal("no drop with p=1")
	}
	fs.SetDelay(30*time.Millisecond, 40*time.Millisecond)
	for range 20 {
		if d := fs.delayNow(); d < 30*time.Millisecond || d > 40*time.Millisecond {
			t.Fatalf("delay %v outside [30ms, 40ms]", d)
		}
	}
	fs.HealAll()
	if fs.dropNow() || fs.delayNow() != 0 {
		t.Fatal("HealAll left a drop or delay in force")
	}
}

// Delay and drop act on real traffic: a round trip through delayed streams takes at least the
// delay, and with p=1 no stream can be opened.
func TestFaultsDelayAndDropOnStreams(t *testing.T) {
	f := newFed(t)
	f.faults = NewFaults(4)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleNCB, nil)
	echo(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := roundTrip(ctx, a, b, []byte("warm up")); err != nil {
		t.Fatal(err)
	}
	f.faults.SetDelay(100*time.Millisecond, 100*time.Millisecond)
	start := time.Now()
	if _, err := roundTrip(ctx, a, b, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("round trip took %v, want at least two 100ms delayed writes", took)
	}
	f.faults.SetDelay(0, 0)
	f.faults.SetDrop(1)
	if _, err := a.host.NewStream(ctx, b.ident.ID, ProtoMessage); !errors.Is(err, ErrDropped) {
		t.Fatalf("stream with drop=1: %v, want ErrDropped", err)
	}
}

// As in a multi-process federation, only one side has a fault switch: its gater alone holds the
// cut in both directions, and after Heal the other side gets through at once.
func TestFaultsOneSidedCut(t *testing.T) {
	f := newFed(t)
	own := NewFaults(6)
	a := f.start("a", RoleCentral, func(c *Config) { c.Faults = own })
	b := f.start("b", RoleEdge, nil)
	echo(t, a)
	own.Cut(a.ident.ID, b.ident.ID)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := roundTrip(ctx, b, a, []byte("knock"))
		cancel()
		if err == nil {
			t.Fatal("b got through a one-sided cut")
		}
	}
	own.Heal(a.ident.ID, b.ident.ID)
	// A refused QUIC knock can still be closing on b's side; the next try gets through.
	testutil.WaitFor(t, 3*time.Second, "b to get through after heal", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := roundTrip(ctx, b, a, []byte("healed"))
		return err == nil
	})
}
