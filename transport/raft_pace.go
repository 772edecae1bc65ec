package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// A holder on a thin link caps what it receives ([replication] max_bandwidth), but its cap acts on
// its reads: the sender writes ahead as far as the stream's flow-control window lets it, and what it
// wrote sits in the sender's socket buffer and the link's queue, ahead of every hit, receipt and
// gossip packet the same connection carries afterwards (one libp2p connection per pair of members).
// So the sender paces its raft streams toward such a peer at the peer's cap: each member answers
// ProtoRaftCap with the rate it receives raft at, the host asks a peer when it dials it for raft,
// and every raft stream toward that peer takes its bytes from one token bucket per peer. Raft then
// enters the connection no faster than the peer drains it, the queues stay short, and the link's
// spare rate (the cap is set below the link's) is there for everything else.

// raftPaceRefresh is how long a peer's answer is kept before it is asked again: a member's cap
// changes only with its configuration, that is with a restart.
const raftPaceRefresh = time.Minute

// raftPaceAskTimeout bounds one question to a peer, answer included.
const raftPaceAskTimeout = 10 * time.Second

// minRaftPace is the slowest pace a peer can ask for: a lower announced cap counts as this, so a
// peer cannot make a stream toward it wait for hours per write (it can only slow its own copy).
const minRaftPace = 1000

// raftPace is the pace of raft streams toward one peer.
type raftPace struct {
	lim *rate.Limiter // rate.Inf until the peer names a cap

	mu     sync.Mutex
	asked  time.Time // when the last question was sent; zero: never
	asking bool
	rate   int64 // bytes per second the peer announced; 0: none
}

// chunk is the most bytes one wait for the pace asks for: its burst.
func (p *raftPace) chunk() int { return p.lim.Burst() }

// Announced is the cap the peer named, bytes per second; 0 when it named none (or was not asked
// yet, or does not speak ProtoRaftCap).
func (p *raftPace) announced() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// raftPaceTo is the pace of raft streams toward p; it asks p for its cap, in the background, when
// p was not asked within raftPaceRefresh. The first stream to a peer starts unpaced and is paced
// from the moment the answer arrives (the wire reads the limiter on every write).
func (h *Host) raftPaceTo(p peer.ID) *raftPace {
	h.paceMu.Lock()
	pc := h.paces[p]
	if pc == nil {
		pc = &raftPace{lim: rate.NewLimiter(rate.Inf, writeChunk)}
		if h.paces == nil {
			h.paces = map[peer.ID]*raftPace{}
		}
		h.paces[p] = pc
	}
	h.paceMu.Unlock()
	pc.mu.Lock()
	ask := !pc.asking && (pc.asked.IsZero() || time.Since(pc.asked) > raftPaceRefresh)
	if ask {
		pc.asking, pc.asked = true, time.Now()
	}
	pc.mu.Unlock()
	if ask {
		// Not on the host's wait group: a dial may come while the host closes, and the question
		// ends with the host anyway (askRaftCap watches h.closed).
		go h.askRaftCap(p, pc)
	}
	return pc
}

// askRaftCap asks p for the rate it receives raft at and sets the pace toward it. A peer of a
// release before ProtoRaftCap, or one that does not answer, leaves the pace as it was.
func (h *Host) askRaftCap(p peer.ID, pc *raftPace) {
	defer func() {
		pc.mu.Lock()
		pc.asking = false
		pc.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), raftPaceAskTimeout)
	defer cancel()
	go func() { // the host's closing ends the question at once
		select {
		case <-h.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	bps, err := h.queryRaftCap(ctx, p)
	if err != nil {
		h.log.Debug("raft pace: peer named no cap", "to", p, "err", err)
		return
	}
	pc.set(bps)
	if bps > 0 {
		h.log.Info("raft pace toward a capped peer", "to", p, "bytes_per_sec", bps)
	}
}

// queryRaftCap is one ProtoRaftCap exchange: the answer is one uvarint, bytes per second.
func (h *Host) queryRaftCap(ctx context.Context, p peer.ID) (int64, error) {
	s, err := h.NewStream(ctx, p, ProtoRaftCap)
	if err != nil {
		return 0, fmt.Errorf("raft cap: %w", err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetReadDeadline(d)
	}
	v, err := binary.ReadUvarint(bufio.NewReaderSize(s, binary.MaxVarintLen64))
	if err != nil {
		s.Reset()
		return 0, fmt.Errorf("raft cap answer: %w", err)
	}
	if v > 1<<40 { // over a terabyte a second is no cap
		v = 0
	}
	return int64(v), nil
}

// set paces at bps bytes per second, unpaced for 0; the burst is the cap's (bandwidthCap).
func (pc *raftPace) set(bps int64) {
	pc.mu.Lock()
	pc.rate = bps
	pc.mu.Unlock()
	if bps <= 0 {
		pc.lim.SetLimit(rate.Inf)
		pc.lim.SetBurst(writeChunk)
		return
	}
	bps = max(bps, minRaftPace)
	pc.lim.SetBurst(int(min(max(bps/20, 1500), 64<<10)))
	pc.lim.SetLimit(rate.Limit(bps))
}

// serveRaftCap answers a member asking for this host's raft cap (Config.RaftBandwidth).
func (h *Host) serveRaftCap(s network.Stream) {
	var bps int64
	if h.raftCap != nil {
		bps = int64(h.raftCap.in.Limit())
	}
	_ = s.SetWriteDeadline(time.Now().Add(raftPaceAskTimeout))
	if _, err := s.Write(binary.AppendUvarint(nil, uint64(bps))); err != nil {
		s.Reset()
		return
	}
	_ = s.Close()
}

// RaftPace is the pace this host's raft streams toward p keep, bytes per second, as p announced
// it; 0 when unpaced. For status and tests.
func (h *Host) RaftPace(p peer.ID) int64 {
	h.paceMu.Lock()
	pc := h.paces[p]
	h.paceMu.Unlock()
	if pc == nil {
		return 0
	}
	return pc.announced()
}
