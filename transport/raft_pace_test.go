package transport

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/fedarms/fedarms/internal/testutil"
)

// inFlight writes payload on a raft stream from a's layer to b's and samples, every 20 ms, the
// bytes a has put on the wire that b has not read yet (its raft reader is b's capped wire); it
// returns the most it saw.
func inFlight(t *testing.T, a, b *node, ma, mb *testMeter, group string, payload []byte) int64 {
	t.Helper()
	la, lb := layerPair(t, a, b, RaftLayerConfig{Group: group, NoResume: true})
	done := make(chan struct{})
	var worst int64
	go func() {
		defer close(done)
		for {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-done:
				return
			}
			d := ma.get(group, b, "sent") - mb.get(group, a, "received")
			worst = max(worst, d)
		}
	}()
	took := transfer(t, la, lb, b, payload, []byte("ok"))
	done <- struct{}{}
	<-done
	t.Logf("%s: %d KiB in %.2f s, at most %d KiB in flight", group, len(payload)>>10, took.Seconds(), worst>>10)
	return worst
}

// A sender learns the cap of a capped receiver and writes raft to it no faster: what it has put on
// the wire and the receiver has not read stays within about a second of the cap, instead of a
// stream's whole flow-control window (256 KiB and up) queued ahead of the connection's other traffic.
func TestRaftPaceHoldsTheSenderToTheReceiversCap(t *testing.T) {
	const capBytes = 32 << 10
	payload := make([]byte, 256<<10) // random: the wire carries every byte
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	f := newFed(t)
	ma, mb := &testMeter{}, &testMeter{}
	a := f.start("a", RoleCentral, func(c *Config) { c.RaftMeter = ma })
	b := f.start("b", RoleEdge, func(c *Config) { c.RaftBandwidth = capBytes; c.RaftMeter = mb })

	// A first stream asks b; the pace holds from the answer on.
	la, _ := layerPair(t, a, b, RaftLayerConfig{Group: "shard/warm", NoResume: true})
	c, err := la.Dial(ServerAddress(b.ident.ID), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	testutil.WaitFor(t, 10*time.Second, "a learns b's cap", func() bool { return a.host.RaftPace(b.ident.ID) == capBytes })
	if got := b.host.RaftPace(a.ident.ID); got != 0 {
		t.Errorf("b paces toward a (which never dialled it for raft and has no cap) at %d B/s", got)
	}

	worst := inFlight(t, a, b, ma, mb, "shard/paced", payload)
	if worst > capBytes*2 {
		t.Errorf("%d bytes in flight toward a receiver capped at %d B/s: the sender is not paced", worst, capBytes)
	}
}

// A member that names no cap, or does not speak ProtoRaftCap (no raft layer here stands for a
// release before it), is not paced; one that names an absurdly low cap is paced at minRaftPace.
func TestRaftPaceWithoutACap(t *testing.T) {
	f := newFed(t)
	a := f.start("a", RoleCentral, nil)
	free := f.start("free", RoleCentral, nil)
	old := f.start("old", RoleEdge, nil)
	echo(t, old)
	if _, err := NewRaftLayer(free.host, "g"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*node{free, old} {
		pc := a.host.raftPaceTo(p.ident.ID)
		testutil.WaitFor(t, 10*time.Second, "the question to "+p.name+" ends", func() bool {
			pc.mu.Lock()
			defer pc.mu.Unlock()
			return !pc.asking
		})
		if pc.lim.Limit() != rate.Inf || a.host.RaftPace(p.ident.ID) != 0 {
			t.Errorf("%s: paced at %v (announced %d)", p.name, pc.lim.Limit(), a.host.RaftPace(p.ident.ID))
		}
	}
	pc := &raftPace{lim: rate.NewLimiter(rate.Inf, writeChunk)}
	pc.set(1)
	if pc.lim.Limit() != minRaftPace || pc.chunk() != 1500 {
		t.Errorf("a cap of 1 B/s paces at %v, burst %d; want %d, 1500", pc.lim.Limit(), pc.chunk(), minRaftPace)
	}
	pc.set(0)
	if pc.lim.Limit() != rate.Inf {
		t.Errorf("no cap after a cap paces at %v", pc.lim.Limit())
	}
}

// slowReader hands out data until stop bytes, then waits for release.
type slowReader struct {
	r       io.Reader
	stop    int
	read    int
	reached chan struct{}
	release chan struct{}
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.read >= s.stop && s.reached != nil {
		close(s.reached)
		s.reached = nil
		<-s.release
	}
	if s.read < s.stop {
		p = p[:min(len(p), s.stop-s.read)]
	}
	n, err := s.r.Read(p)
	s.read += n
	return n, err
}

// While a snapshot is on its way to a peer, the layer says so (node/ does not restart the peer's
// replication then); once it ended, whole or cut, it does not.
func TestRaftSendingSnapshotWhileInFlight(t *testing.T) {
	l := newSnapshotLink(t, "shard/snap")
	data := bytes.Repeat([]byte("record "), 300<<10) // 2.1 MB: several chunks
	b := l.b.ident.ID
	if l.la.SendingSnapshot(b) || l.a.host.SendingSnapshot("shard/snap", b) {
		t.Fatal("sending a snapshot before any")
	}
	sr := &slowReader{r: bytes.NewReader(data), stop: len(data) / 2, reached: make(chan struct{}), release: make(chan struct{})}
	reached := sr.reached
	errc := make(chan error, 1)
	go func() {
		req := l.installRequest(7, int64(len(data)))
		errc <- l.installFrom(req, sr)
	}()
	<-reached
	if !l.la.SendingSnapshot(b) || !l.a.host.SendingSnapshot("shard/snap", b) {
		t.Error("half a snapshot sent, and the layer does not say it is sending one")
	}
	if l.a.host.SendingSnapshot("shard/other", b) || l.la.SendingSnapshot(l.a.ident.ID) {
		t.Error("another group or peer is said to receive the snapshot")
	}
	close(sr.release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if l.la.SendingSnapshot(b) {
		t.Error("the snapshot was installed, and the layer still says it is sending one")
	}
	if err := l.send(8, data, len(data)/2); err == nil {
		t.Fatal("a cut snapshot installed")
	}
	testutil.WaitFor(t, 10*time.Second, "the cut snapshot no longer counted", func() bool { return !l.la.SendingSnapshot(b) })
}
