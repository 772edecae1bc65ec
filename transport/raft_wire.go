package transport

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// Replication traffic (every raft stream, whatever the group, including InstallSnapshot's data) is
// counted per group and peer, and held to the host's bandwidth cap, at the wire: after compression,
// so both are the bytes the link carries. Nothing else the host carries (hit notifications,
// receipts, decisions, searches, gossip and health) passes the cap, so on a link that replication
// would fill they still find room as long as the cap is below the link's rate.

// ByteCounter adds up bytes; a prometheus.Counter is one.
type ByteCounter interface{ Add(float64) }

// RaftMeter counts the bytes of a host's raft streams on the wire.
type RaftMeter interface {
	// RaftCounters gives the counters of group's streams with p, once per stream: bytes sent to p
	// and received from p. Either may be nil.
	RaftCounters(group string, p peer.ID) (sent, received ByteCounter)
}

// bandwidthCap is a host's token buckets for raft bytes, one per direction: a thin link is
// usually as thin both ways, and an edge's replication comes in while its answers go out.
type bandwidthCap struct {
	out, in *rate.Limiter
	chunk   int // the most bytes one wait asks for: the buckets' burst
}

// newBandwidthCap caps raft traffic at bytesPerSec each way; nil when bytesPerSec is not positive.
// The burst is a twentieth of a second of traffic (at least one packet, at most 64 KiB), so the
// cap holds over short spans and one stream's write never queues long ahead of another's.
func newBandwidthCap(bytesPerSec int64) *bandwidthCap {
	if bytesPerSec <= 0 {
		return nil
	}
	chunk := int(min(max(bytesPerSec/20, 1500), 64<<10))
	return &bandwidthCap{out: rate.NewLimiter(rate.Limit(bytesPerSec), chunk),
		in: rate.NewLimiter(rate.Limit(bytesPerSec), chunk), chunk: chunk}
}

// raftWire is a raft stream as it crosses the wire: its bytes counted and held to the host's cap,
// and raft's deadlines counted from the last byte that moved. raft gives a whole AppendEntries
// (up to 64 entries of an import batch each) 10 s to be written; on a thin link, capped or not, a
// batch takes longer than that while every byte moves, and raft would retry it for ever. So a
// deadline raft sets is kept as an idle time: each write or read that moves bytes pushes it that far
// ahead, and only a stream on which nothing moves for that long times out. Reads come from one
// goroutine and writes from one.
type raftWire struct {
	network.Stream
	sent, received ByteCounter   // nil: not counted
	cap            *bandwidthCap // nil: no cap
	pace           *raftPace     // nil: not paced (streams this node accepted)
	writeIdle      atomic.Int64  // nanoseconds raft allows a write without progress; 0: no deadline
	readIdle       atomic.Int64  // nanoseconds raft allows a read without progress; 0: no deadline
}

// raftWire wraps a raft stream of group with p in the host's meter and cap.
func (h *Host) raftWire(s network.Stream, group string, p peer.ID) network.Stream {
	w := &raftWire{Stream: s, cap: h.raftCap}
	if h.raftMeter != nil {
		w.sent, w.received = h.raftMeter.RaftCounters(group, p)
	}
	return w
}

// countHeader books bytes that crossed the wire before the stream was wrapped (the group header).
func countHeader(s network.Stream, sent, received int) {
	w, ok := s.(*raftWire)
	if !ok {
		return
	}
	if w.sent != nil && sent > 0 {
		w.sent.Add(float64(sent))
	}
	if w.received != nil && received > 0 {
		w.received.Add(float64(received))
	}
}

// writeChunk is the most bytes written at once without a cap: progress is seen, and the deadline
// pushed, at least every writeChunk bytes.
const writeChunk = 64 << 10

// Write waits for the cap's tokens, a burst at a time, and sends; it gives up with a timeout when
// the tokens would come after the deadline.
func (w *raftWire) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		step := writeChunk
		if w.cap != nil {
			step = w.cap.chunk
		}
		if w.pace != nil {
			step = min(step, w.pace.chunk())
		}
		chunk := p[:min(len(p), step)]
		if w.cap != nil {
			if err := w.waitOut(w.cap.out, len(chunk)); err != nil {
				return n, err
			}
		}
		if w.pace != nil {
			if err := w.waitOut(w.pace.lim, len(chunk)); err != nil {
				return n, err
			}
		}
		m, err := w.Stream.Write(chunk)
		n += m
		if m > 0 {
			if w.sent != nil {
				w.sent.Add(float64(m))
			}
			w.moved(true)
		}
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// moved pushes the deadlines raft set ahead after bytes moved: both after a write (an answer cannot
// come before its request is sent), the read deadline after a read.
func (w *raftWire) moved(wrote bool) {
	now := time.Now()
	if d := w.writeIdle.Load(); wrote && d > 0 {
		_ = w.Stream.SetWriteDeadline(now.Add(time.Duration(d)))
	}
	if d := w.readIdle.Load(); d > 0 {
		_ = w.Stream.SetReadDeadline(now.Add(time.Duration(d)))
	}
}

// waitOut takes n bytes' tokens from an outgoing bucket (the host's cap, or the pace toward the
// peer) within the write deadline. A burst that shrank below n meanwhile (the peer's cap arrived)
// is taken in pieces.
func (w *raftWire) waitOut(lim *rate.Limiter, n int) error {
	ctx := context.Background()
	if d := w.writeIdle.Load(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
	}
	for n > 0 {
		k := min(n, lim.Burst())
		if err := lim.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil || k <= lim.Burst() {
				return fmt.Errorf("raft bandwidth cap: %w", os.ErrDeadlineExceeded)
			}
			continue // the burst shrank between reading it and waiting
		}
		n -= k
	}
	return nil
}

// Read receives at most a burst and then takes its tokens from the incoming bucket, so a capped
// node reads no faster than the cap and the sender's flow-control window fills: the backlog stays
// with the sender, bounded by that window, instead of in front of this node's other traffic.
func (w *raftWire) Read(p []byte) (int, error) {
	if w.cap != nil && len(p) > w.cap.chunk {
		p = p[:w.cap.chunk]
	}
	n, err := w.Stream.Read(p)
	if n > 0 {
		if w.received != nil {
			w.received.Add(float64(n))
		}
		if w.cap != nil {
			_ = w.cap.in.WaitN(context.Background(), n) // n is at most the burst: never refused
		}
		w.moved(false)
	}
	return n, err
}

// SetDeadline sets the stream's deadlines and keeps them as idle times.
func (w *raftWire) SetDeadline(t time.Time) error {
	w.writeIdle.Store(idleUntil(t))
	w.readIdle.Store(idleUntil(t))
	return w.Stream.SetDeadline(t)
}

// SetWriteDeadline sets the stream's write deadline and keeps it as an idle time.
func (w *raftWire) SetWriteDeadline(t time.Time) error {
	w.writeIdle.Store(idleUntil(t))
	return w.Stream.SetWriteDeadline(t)
}

// SetReadDeadline sets the stream's read deadline and keeps it as an idle time.
func (w *raftWire) SetReadDeadline(t time.Time) error {
	w.readIdle.Store(idleUntil(t))
	return w.Stream.SetReadDeadline(t)
}

// idleUntil is the time from now to t in nanoseconds; 0 for no deadline (at least 1 for one past).
func idleUntil(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(int64(time.Until(t)), 1)
}
