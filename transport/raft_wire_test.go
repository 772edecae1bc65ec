package transport

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// testCounter is a ByteCounter.
type testCounter struct{ n atomic.Int64 }

func (c *testCounter) Add(v float64) { c.n.Add(int64(v)) }

// testMeter is a RaftMeter keeping one pair of counters per group and peer.
type testMeter struct {
	mu sync.Mutex
	c  map[string]*testCounter // guarded by mu; by group, peer and direction
}

func (m *testMeter) counter(group string, p peer.ID, dir string) *testCounter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		m.c = map[string]*testCounter{}
	}
	k := group + "|" + p.String() + "|" + dir
	if m.c[k] == nil {
		m.c[k] = &testCounter{}
	}
	return m.c[k]
}

func (m *testMeter) RaftCounters(group string, p peer.ID) (ByteCounter, ByteCounter) {
	return m.counter(group, p, "sent"), m.counter(group, p, "received")
}

func (m *testMeter) get(group string, p *node, dir string) int64 {
	return m.counter(group, p.ident.ID, dir).n.Load()
}

// transfer dials b's layer of group from a's, writes payload, and returns once b has read all of
// it and a has read b's answer back; it returns how long b took to receive the payload.
func transfer(t *testing.T, la, lb *RaftLayer, b *node, payload, answer []byte) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := la.Dial(ServerAddress(b.ident.ID), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(payload); wrote <- err }()
	in, err := lb.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := io.ReadFull(in, make([]byte, len(payload))); err != nil {
		t.Fatalf("receive: %v", err)
	}
	took := time.Since(start)
	if _, err := in.Write(answer); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(answer))); err != nil {
		t.Fatalf("answer: %v", err)
	}
	// The sender counts a write once the stream has taken it, which can be after the receiver has
	// read it: the counters are read only once the write has returned.
	if err := <-wrote; err != nil {
		t.Fatalf("send: %v", err)
	}
	return took
}

func layerPair(t *testing.T, a, b *node, cfg RaftLayerConfig) (la, lb *RaftLayer) {
	t.Helper()
	var err error
	if la, err = NewRaftLayerWithConfig(a.host, cfg); err != nil {
		t.Fatal(err)
	}
	if lb, err = NewRaftLayerWithConfig(b.host, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { la.Close(); lb.Close() })
	return la, lb
}

// Both ends count the same bytes on the wire per group and peer: compressed on ProtoRaftZstd, the
// bytes themselves (plus the group header) on ProtoRaft.
func TestRaftMeterCountsWireBytes(t *testing.T) {
	f := newFed(t)
	ma, mb := &testMeter{}, &testMeter{}
	a := f.start("a", RoleCentral, func(c *Config) { c.RaftMeter = ma })
	b := f.start("b", RoleEdge, func(c *Config) { c.RaftMeter = mb })
	payload, answer := recordLike(1<<20, 3), recordLike(5000, 4)

	la, lb := layerPair(t, a, b, RaftLayerConfig{Group: "shard/europe", NoResume: true})
	transfer(t, la, lb, b, payload, answer)
	sent, got := ma.get("shard/europe", b, "sent"), mb.get("shard/europe", a, "received")
	back, backGot := mb.get("shard/europe", a, "sent"), ma.get("shard/europe", b, "received")
	t.Logf("compressed: %d bytes of records -> %d on the wire (%.1f%%); answer %d -> %d", len(payload), sent,
		100*float64(sent)/float64(len(payload)), len(answer), back)
	if sent != got || back != backGot {
		t.Fatalf("a counted %d sent and %d received, b %d received and %d sent", sent, backGot, got, back)
	}
	if sent == 0 || sent > int64(len(payload))*35/100 {
		t.Fatalf("%d bytes of records took %d on the wire, want at most 35%%", len(payload), sent)
	}

	la, lb = layerPair(t, a, b, RaftLayerConfig{Group: "shard/africa", Uncompressed: true})
	transfer(t, la, lb, b, payload, answer)
	want := int64(len(raftHeader("shard/africa")) + len(payload))
	if s, g := ma.get("shard/africa", b, "sent"), mb.get("shard/africa", a, "received"); s != want || g != want {
		t.Fatalf("plain: a counted %d sent, b %d received, want %d both", s, g, want)
	}
	if s, g := mb.get("shard/africa", a, "sent"), ma.get("shard/africa", b, "received"); s != int64(len(answer)) || g != s {
		t.Fatalf("plain answer: b counted %d sent, a %d received, want %d both", s, g, len(answer))
	}
}

// pingLatency sends 1 KiB round trips on ProtoMessage from a to b every 50 ms until stop is closed,
// and returns the slowest.
func pingLatency(t *testing.T, a, b *node, stop <-chan struct{}) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		defer func() { out <- worst }()
		for first := true; ; first = false {
			if !first {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			s, err := roundTrip(ctx, a, b, make([]byte, 1024))
			cancel()
			if err != nil {
				t.Errorf("message during replication: %v", err)
				return
			}
			s.Close()
			worst = max(worst, time.Since(start))
		}
	}()
	return out
}

// With a cap, N bytes of replication take about N/cap, on the sender's cap and on the receiver's;
// messages sent meanwhile on other protocols are not held behind them.
func TestRaftBandwidthCapPacesReplicationNotMessages(t *testing.T) {
	const capBytes = 128 << 10 // bytes per second
	const n = 384 << 10
	payload := make([]byte, n) // random: zstd cannot shrink it, so the wire carries n bytes
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	f := newFed(t)
	capped := f.start("capped", RoleEdge, func(c *Config) { c.RaftBandwidth = capBytes })
	free := f.start("free", RoleCentral, nil)
	other := f.start("other", RoleCentral, nil)
	echo(t, free)
	echo(t, capped)

	measure := func(name string, from, to *node, group string) (time.Duration, time.Duration) {
		la, lb := layerPair(t, from, to, RaftLayerConfig{Group: group, NoResume: true})
		stop := make(chan struct{})
		worst := pingLatency(t, from, to, stop)
		took := transfer(t, la, lb, to, payload, []byte("ok"))
		close(stop)
		w := <-worst
		t.Logf("%s: %d KiB in %.2f s (%.0f KiB/s); slowest 1 KiB message round trip meanwhile %v",
			name, n>>10, took.Seconds(), float64(n>>10)/took.Seconds(), w.Round(time.Millisecond))
		return took, w
	}
	base, _ := measure("uncapped", other, free, "shard/free")
	out, outWorst := measure("sender capped", capped, free, "shard/out")
	in, inWorst := measure("receiver capped", free, capped, "shard/in")

	// A token bucket lets one burst through at once, then capBytes per second.
	floor := time.Duration(n-capBytes/20) * time.Second / capBytes
	for _, c := range []struct {
		name        string
		took, worst time.Duration
	}{{"sender capped", out, outWorst}, {"receiver capped", in, inWorst}} {
		if c.took < floor || c.took > 3*floor {
			t.Errorf("%s: %d bytes at %d B/s took %v, want %v to %v", c.name, n, capBytes, c.took, floor, 3*floor)
		}
		if c.worst > c.took/4 || c.worst > time.Second {
			t.Errorf("%s: a message waited %v during a transfer of %v: held behind replication", c.name, c.worst, c.took)
		}
	}
	if base > floor/2 {
		t.Errorf("uncapped transfer took %v: the cap applies to others too", base)
	}
}

// raft's deadlines count from the last byte that moved: a capped write of four seconds passes a
// one-second deadline while it progresses, and a write nobody reads times out.
func TestRaftDeadlineIsIdleTime(t *testing.T) {
	const capBytes = 64 << 10
	payload := make([]byte, 256<<10)
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	f := newFed(t)
	a := f.start("a", RoleCentral, func(c *Config) { c.RaftBandwidth = capBytes })
	b := f.start("b", RoleEdge, nil)
	la, lb := layerPair(t, a, b, RaftLayerConfig{Group: "g", NoResume: true})

	c, err := la.Dial(ServerAddress(b.ident.ID), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, err := lb.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(in, make([]byte, len(payload))); done <- err }()
	start := time.Now()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("a write that kept moving failed after %v: %v", time.Since(start), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("%d bytes at %d B/s took %v: the cap did not hold them", len(payload), capBytes, took)
	}

	// Nobody reads (b, uncapped, writes to a): once the flow-control window is full nothing moves,
	// and the deadline hits.
	back, err := lb.Dial(ServerAddress(a.ident.ID), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	back.SetWriteDeadline(time.Now().Add(time.Second))
	start = time.Now()
	var werr error
	for time.Since(start) < 60*time.Second && werr == nil {
		_, werr = back.Write(payload)
	}
	var ne interface{ Timeout() bool }
	if werr == nil || !errors.As(werr, &ne) || !ne.Timeout() {
		t.Fatalf("a write nobody reads: %v after %v, want a timeout", werr, time.Since(start))
	}
}
