package transport

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/fedarms/fedarms/internal/testutil"
)

// sink accepts ProtoMessage streams and reads them to the end.
func sink(t *testing.T, n *node) {
	t.Helper()
	if err := n.host.Handle(ProtoMessage, func(s network.Stream) {
		defer s.Close()
		io.Copy(io.Discard, s)
	}); err != nil {
		t.Fatal(err)
	}
}

// sendPaced writes n bytes from a to b on a stream wrapped by PaceReplication and returns the time.
func sendPaced(t *testing.T, a, b *node, n int) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw, err := a.host.NewStream(ctx, b.ident.ID, ProtoMessage)
	if err != nil {
		t.Fatal(err)
	}
	s := a.host.PaceReplication(raw, b.ident.ID)
	defer s.Close()
	t0 := time.Now()
	if _, err := s.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	return time.Since(t0)
}

// A feed stream and the host's raft streams take one budget: bytes a raft stream took from the cap
// are not there for a feed stream in the same second.
func TestPaceReplicationSharesTheHostCap(t *testing.T) {
	const capBytes = 32 << 10
	f := newFed(t)
	a := f.start("a", RoleEdge, func(c *Config) { c.RaftBandwidth = capBytes })
	b := f.start("b", RoleCentral, nil)
	sink(t, b)
	alone := sendPaced(t, a, b, 48<<10)
	// A raft stream's writes take their tokens from the same bucket (raftWire.Write).
	go func() {
		lim := a.host.raftCap.out
		for n := 48 << 10; n > 0; n -= lim.Burst() {
			_ = lim.WaitN(context.Background(), min(n, lim.Burst()))
		}
	}()
	time.Sleep(50 * time.Millisecond)
	shared := sendPaced(t, a, b, 48<<10)
	t.Logf("48 KiB at a 32 KiB/s cap: %.2f s alone, %.2f s beside 48 KiB of raft", alone.Seconds(), shared.Seconds())
	if alone < time.Second || shared < alone+time.Second {
		t.Errorf("not one budget: %v alone, %v beside raft", alone, shared)
	}
}

// An uncapped source paces a feed stream toward a capped asker at the asker's announced cap, as it
// does raft streams.
func TestPaceReplicationTowardACappedPeer(t *testing.T) {
	const capBytes = 32 << 10
	f := newFed(t)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleEdge, func(c *Config) { c.RaftBandwidth = capBytes })
	sink(t, b)
	if _, err := NewRaftLayer(b.host, "g"); err != nil { // b answers ProtoRaftCap
		t.Fatal(err)
	}
	a.host.raftPaceTo(b.ident.ID)
	testutil.WaitFor(t, 10*time.Second, "a learns b's cap", func() bool { return a.host.RaftPace(b.ident.ID) == capBytes })
	took := sendPaced(t, a, b, 96<<10)
	t.Logf("96 KiB toward a peer capped at 32 KiB/s: %.2f s", took.Seconds())
	if took < 2*time.Second {
		t.Errorf("96 KiB sent in %v toward a peer capped at 32 KiB/s: not paced", took)
	}
}
