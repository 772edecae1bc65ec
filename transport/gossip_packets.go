package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Packet path limits. A queue holds a few probe rounds; a dial or write that takes longer than
// packetIOTimeout means the peer is gone for this round, and memberlist's probes will say so.
const (
	packetQueueLen  = 64
	packetIOTimeout = 3 * time.Second
	packetIdle      = 30 * time.Second
	maxPacketSize   = 64 << 10
)

// packetSender owns the packet stream to one peer; its queue is the only thing shared with callers.
type packetSender struct {
	ch chan []byte
}

// enqueue hands a packet to the peer's sender, starting one if needed, or drops it if the queue
// is full or the transport is shut down.
func (t *GossipTransport) enqueue(id peer.ID, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.closed:
		return
	default:
	}
	s := t.senders[id]
	if s == nil {
		s = &packetSender{ch: make(chan []byte, packetQueueLen)}
		t.senders[id] = s
		t.wg.Add(1)
		go t.runSender(id, s)
	}
	select {
	case s.ch <- b:
	default: // full: drop, as a congested UDP path would
	}
}

// runSender writes queued packets to one peer on a long-lived stream, reopening it after an error,
// and exits after packetIdle without traffic so that departed peers do not keep a goroutine.
func (t *GossipTransport) runSender(id peer.ID, snd *packetSender) {
	defer t.wg.Done()
	var s network.Stream
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	idle := time.NewTimer(packetIdle)
	defer idle.Stop()
	var frame []byte
	for {
		select {
		case <-t.closed:
			return
		case <-idle.C:
			t.mu.Lock()
			if len(snd.ch) > 0 {
				t.mu.Unlock()
				idle.Reset(packetIdle)
				continue
			}
			delete(t.senders, id)
			t.mu.Unlock()
			return
		case b := <-snd.ch:
			idle.Reset(packetIdle)
			if s == nil {
				ctx, cancel := contextWithTimeoutOrClose(packetIOTimeout, t.closed)
				var err error
				s, err = t.h.NewStream(ctx, id, ProtoGossipPacket)
				cancel()
				if err != nil {
					s = nil
					continue // packet lost; memberlist will probe again
				}
			}
			frame = appendPacket(frame[:0], b)
			_ = s.SetWriteDeadline(time.Now().Add(packetIOTimeout))
			if _, err := s.Write(frame); err != nil {
				s.Reset()
				s = nil
			}
		}
	}
}

// servePackets reads framed packets from one peer's packet stream until it ends.
func (t *GossipTransport) servePackets(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	ip, port := GossipAddr(from)
	addr := &net.UDPAddr{IP: ip, Port: port}
	r := bufio.NewReader(s)
	for {
		buf, err := readPacket(r)
		if errors.Is(err, errPacketTooBig) {
			s.Reset()
			return
		}
		if err != nil {
			return
		}
		p := &memberlist.Packet{Buf: buf, From: addr, Timestamp: time.Now()}
		t.heardMu.Lock()
		t.heard[from] = p.Timestamp
		t.heardMu.Unlock()
		select {
		case t.packetCh <- p:
		case <-t.closed:
			s.Reset()
			return
		}
	}
}

// errPacketTooBig is a packet frame whose length is over maxPacketSize.
var errPacketTooBig = errors.New("gossip packet over the size limit")

// appendPacket appends the frame of one packet on a packet stream: a uvarint length, then the packet.
func appendPacket(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// readPacket reads the frame appendPacket writes; the length is checked before anything is made.
func readPacket(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxPacketSize {
		return nil, fmt.Errorf("%w: %d bytes", errPacketTooBig, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// contextWithTimeoutOrClose is a timeout context that also ends when closed is closed.
func contextWithTimeoutOrClose(d time.Duration, closed <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
