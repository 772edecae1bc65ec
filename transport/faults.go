package transport

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Fault errors, returned by Host.NewStream while a fault is in force.
var (
	ErrCut     = errors.New("link cut by the fault switch")
	ErrDropped = errors.New("stream dropped by the fault switch")
)

// Faults is the fault switch of a test network: it cuts or heals the link between two peers,
// isolates a peer from everyone, and drops or delays traffic with a seeded random source so a
// failing run can be replayed. It exists only when a test or an explicit test flag in the node's
// config creates one and passes it in Config.Faults; a Host without one has no fault code path.
//
// Several hosts in one process share one Faults (an in-process test cluster); a multi-process
// federation gives each node its own, and cutting a pair on one side is enough because that side's
// gater refuses the connection in both directions.
//
// What each fault does:
//   - Cut/Isolate: the gaters of the registered hosts refuse dials and accepts across the cut, and
//     existing connections across it are closed at once. Streams cannot be opened across it.
//   - Drop: each gossip packet is discarded, and each new stream is refused, with probability p.
//     (Bytes inside an open stream are never dropped: the streams are reliable by contract.)
//   - Delay: each gossip packet, and each write on a stream opened or accepted through a Host, waits
//     a uniformly random time in [min, max].
type Faults struct {
	mu       sync.Mutex
	cut      map[[2]peer.ID]bool // guarded by mu; keys ordered by pairKey
	isolated map[peer.ID]bool    // guarded by mu
	drop     float64             // guarded by mu
	delayMin time.Duration       // guarded by mu
	delayMax time.Duration       // guarded by mu
	rng      *rand.Rand          // guarded by mu
	hosts    map[peer.ID]*Host   // guarded by mu; hosts whose connections a cut closes
}

// NewFaults makes a fault switch with nothing in force, drawing randomness from seed.
func NewFaults(seed uint64) *Faults {
	return &Faults{
		cut:      map[[2]peer.ID]bool{},
		isolated: map[peer.ID]bool{},
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		hosts:    map[peer.ID]*Host{},
	}
}

func pairKey(a, b peer.ID) [2]peer.ID {
	if b < a {
		a, b = b, a
	}
	return [2]peer.ID{a, b}
}

// Cut stops all traffic between a and b until Heal.
func (f *Faults) Cut(a, b peer.ID) {
	f.mu.Lock()
	f.cut[pairKey(a, b)] = true
	hosts := f.hostList()
	f.mu.Unlock()
	for _, h := range hosts {
		switch h.ID() {
		case a:
			h.closePeer(b)
		case b:
			h.closePeer(a)
		}
	}
}

// Heal undoes Cut(a, b); connections come back on the next dial.
func (f *Faults) Heal(a, b peer.ID) {
	f.mu.Lock()
	delete(f.cut, pairKey(a, b))
	f.mu.Unlock()
}

// Isolate cuts p off from every peer until Rejoin; p keeps running.
func (f *Faults) Isolate(p peer.ID) {
	f.mu.Lock()
	f.isolated[p] = true
	hosts := f.hostList()
	f.mu.Unlock()
	for _, h := range hosts {
		if h.ID() == p {
			for _, q := range h.p2p.Network().Peers() {
				h.closePeer(q)
			}
			continue
		}
		h.closePeer(p)
	}
}

// Rejoin undoes Isolate(p).
func (f *Faults) Rejoin(p peer.ID) {
	f.mu.Lock()
	delete(f.isolated, p)
	f.mu.Unlock()
}

// HealAll lifts every cut, isolation, drop and delay.
func (f *Faults) HealAll() {
	f.mu.Lock()
	clear(f.cut)
	clear(f.isolated)
	f.drop, f.delayMin, f.delayMax = 0, 0, 0
	f.mu.Unlock()
}

// SetDrop sets the probability, in [0, 1], that a gossip packet or a new stream is dropped.
func (f *Faults) SetDrop(p float64) {
	f.mu.Lock()
	f.drop = min(max(p, 0), 1)
	f.mu.Unlock()
}

// SetDelay makes every gossip packet and stream write wait a random time in [lo, hi].
func (f *Faults) SetDelay(lo, hi time.Duration) {
	f.mu.Lock()
	f.delayMin, f.delayMax = lo, max(lo, hi)
	f.mu.Unlock()
}

// Blocked reports whether traffic between a and b is cut.
func (f *Faults) Blocked(a, b peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.isolated[a] || f.isolated[b] || f.cut[pairKey(a, b)]
}

// dropNow draws whether to drop one packet or stream.
func (f *Faults) dropNow() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drop > 0 && f.rng.Float64() < f.drop
}

// delayNow draws how long one packet or write waits.
func (f *Faults) delayNow() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delayMax <= 0 {
		return 0
	}
	return f.delayMin + time.Duration(f.rng.Int64N(int64(f.delayMax-f.delayMin)+1))
}

func (f *Faults) register(h *Host) {
	f.mu.Lock()
	f.hosts[h.ID()] = h
	f.mu.Unlock()
}

func (f *Faults) unregister(h *Host) {
	f.mu.Lock()
	if f.hosts[h.ID()] == h {
		delete(f.hosts, h.ID())
	}
	f.mu.Unlock()
}

// hostList snapshots the registered hosts; the caller holds mu. Connections are closed after mu is
// released because closing runs libp2p notifiees that may call back into the gater.
func (f *Faults) hostList() []*Host {
	out := make([]*Host, 0, len(f.hosts))
	for _, h := range f.hosts {
		out = append(out, h)
	}
	return out
}

// faultyStream delays writes on a stream while a delay is in force.
type faultyStream struct {
	network.Stream
	faults *Faults
}

// Write waits out the delay in force, then writes.
func (s faultyStream) Write(p []byte) (int, error) {
	if d := s.faults.delayNow(); d > 0 {
		time.Sleep(d)
	}
	return s.Stream.Write(p)
}
