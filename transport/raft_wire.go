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

// raftWire is a raft stream as it crosses the wire: its bytes counted and held to the host's cap.
// Reads come from one goroutine and writes from one.
type raftWire struct {
	network.Stream
	sent, received ByteCounter   // nil: not counted
	cap            *bandwidthCap // nil: no cap
	writeBy        atomic.Int64  // the write deadline in Unix nanoseconds; 0: none
}

// raftWire wraps a raft stream of group with p in the host's meter and cap; s itself when the host
// has neither.
func (h *Host) raftWire(s network.Stream, group string, p peer.ID) network.Stream {
	if h.raftMeter == nil && h.raftCap == nil {
		return s
	}
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

// Write waits for the cap's tokens, a burst at a time, and sends; it gives up with a timeout when
// the tokens would come after the write deadline, as the stream itself would.
func (w *raftWire) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p
		if w.cap != nil {
			chunk = p[:min(len(p), w.cap.chunk)]
			if err := w.waitOut(len(chunk)); err != nil {
				return n, err
			}
		}
		m, err := w.Stream.Write(chunk)
		n += m
		if w.sent != nil && m > 0 {
			w.sent.Add(float64(m))
		}
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// waitOut takes n bytes' tokens from the outgoing bucket before the write deadline.
func (w *raftWire) waitOut(n int) error {
	ctx := context.Background()
	if by := w.writeBy.Load(); by != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Unix(0, by))
		defer cancel()
	}
	if err := w.cap.out.WaitN(ctx, n); err != nil {
		return fmt.Errorf("raft bandwidth cap: %w", os.ErrDeadlineExceeded)
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
	}
	return n, err
}

// SetDeadline sets the stream's deadlines and notes the write deadline for the cap.
func (w *raftWire) SetDeadline(t time.Time) error {
	w.noteWriteDeadline(t)
	return w.Stream.SetDeadline(t)
}

// SetWriteDeadline sets the stream's write deadline and notes it for the cap.
func (w *raftWire) SetWriteDeadline(t time.Time) error {
	w.noteWriteDeadline(t)
	return w.Stream.SetWriteDeadline(t)
}

func (w *raftWire) noteWriteDeadline(t time.Time) {
	var by int64
	if !t.IsZero() {
		by = t.UnixNano()
	}
	w.writeBy.Store(by)
}
