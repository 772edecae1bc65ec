package transport

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// On ProtoRaftResume the bytes are ProtoRaftZstd's, except for an InstallSnapshot's data: raft's
// request goes as it is, then sender and receiver agree what the receiver already holds of that
// snapshot and only the rest crosses the link, in chunks of resumeChunk bytes:
//
//	sender   'O' + SHA-256 of chunk 0 (32 bytes)            the snapshot's name with the request
//	receiver 'A' + uvarint n + n × SHA-256                   chunks 0..n-1 it holds, by checksum
//	sender   per chunk i, in order: 'S' (the receiver holds it: i < n and the checksums match)
//	         or 'D' + the chunk's bytes
//	sender   'E' + SHA-256 of the whole data
//
// The sender still reads every byte from raft's reader (it hashes each chunk to compare), but
// sends only the chunks the receiver lacks. The receiver keeps what arrives in a partial file
// (raft_partial.go) and hands raft the whole stream, the chunks it held and the new ones in order,
// as one InstallSnapshot; it holds back the last chunk until the whole data's hash matches, so
// raft never completes a snapshot that is not the sender's. A snapshot of zero bytes has no
// exchange. Resuming from another voter falls out when its snapshot's bytes are the same: only
// the chunks whose checksums differ are sent.

// resumeChunk is the unit of resumption: a cut loses at most this much of what was received.
const resumeChunk = 256 << 10

// Record kinds of the resume exchange.
const (
	resumeOffer  = 'O'
	resumeAnswer = 'A'
	resumeSkip   = 'S'
	resumeData   = 'D'
	resumeEnd    = 'E'
)

// errBadResume is a resume exchange that breaks the protocol.
var errBadResume = errors.New("bad snapshot resume exchange")

// SnapshotTransfer reports one InstallSnapshot on ProtoRaftResume, on either side.
type SnapshotTransfer struct {
	Group string
	Peer  peer.ID
	// Sending is true on the sender's side.
	Sending bool
	// Size is the snapshot's data in bytes (before compression).
	Size int64
	// Resumed is the data the receiver already held and was not sent again.
	Resumed int64
	// Sent is the data sent (sender) or received from the wire (receiver), before compression.
	Sent int64
	// Err is why the transfer stopped; nil when the whole snapshot crossed.
	Err error
}

// resumeSender is a raft stream this node dialled on ProtoRaftResume: raft's writes pass through
// to the framed stream, except an InstallSnapshot's data, which goes by the resume exchange.
// Raft writes from one goroutine, and reads this stream only after it has written a whole
// request (InstallSnapshot is never pipelined), so the exchange reads the receiver's answer
// itself, through the same buffer raft's reads use.
type resumeSender struct {
	network.Stream               // the framed stream: deadlines, Close, Reset
	in             *bufio.Reader // the framed stream's reads, raft's and the exchange's
	inMu           sync.Mutex    // one reader of in at a time, should raft ever read while it writes
	l              *RaftLayer
	to             peer.ID

	inReq bool      // inside a request
	isReq bool      // the request is an InstallSnapshot
	scan  mpScanner // where the request ends
	req   []byte    // an InstallSnapshot request's msgpack, to learn what it sends
	snap  *snapSend // the InstallSnapshot's data is being sent

	flying bool // counted in the layer's snapshots being sent; guarded by l.sendMu
}

// newResumeSender wraps framed, a stream dialled on ProtoRaftResume.
func newResumeSender(l *RaftLayer, framed network.Stream, to peer.ID) *resumeSender {
	return &resumeSender{Stream: framed, in: bufio.NewReaderSize(framed, 4<<10), l: l, to: to}
}

// Read is raft reading its answers.
func (r *resumeSender) Read(p []byte) (int, error) {
	r.inMu.Lock()
	defer r.inMu.Unlock()
	return r.in.Read(p)
}

// Write passes raft's bytes on; an InstallSnapshot's data goes by the exchange.
func (r *resumeSender) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.snap != nil {
			k, err := r.snap.write(p[n:])
			n += k
			if err != nil {
				r.snap.report(err)
				r.snap = nil
				return n, err
			}
			if r.snap.done() {
				r.snap.report(nil)
				r.snap = nil
			}
			continue
		}
		// Raft's own bytes up to the end of the current request go through as they are.
		start := n
		for n < len(p) && r.snap == nil {
			if !r.inReq {
				r.inReq, r.isReq, r.req, r.scan = true, p[n] == byte(RaftInstallSnapshot), nil, mpScanner{pending: 1}
				n++
				continue
			}
			k, end := r.scan.feed(p[n:])
			if r.isReq {
				r.req = append(r.req, p[n:n+k]...)
			}
			n += k
			if end {
				r.inReq = false
				if r.isReq {
					s, err := r.startSnapshot()
					if err != nil {
						return start, err
					}
					r.snap = s
					if s != nil {
						r.l.beginSend(r)
					}
				}
			}
		}
		if _, err := r.Stream.Write(p[start:n]); err != nil {
			return start, err
		}
	}
	return n, nil
}

// startSnapshot reads the InstallSnapshot request raft is sending and prepares its data's
// exchange; nil when the snapshot is empty.
func (r *resumeSender) startSnapshot() (*snapSend, error) {
	var req raft.InstallSnapshotRequest
	if err := codec.NewDecoderBytes(r.req, &codec.MsgpackHandle{}).Decode(&req); err != nil {
		return nil, fmt.Errorf("resume: own install snapshot request: %w", err)
	}
	if req.Size <= 0 {
		return nil, nil
	}
	id := snapshotID{group: r.l.group, term: req.LastLogTerm, index: req.LastLogIndex, size: req.Size}
	return &snapSend{r: r, id: id, out: bufio.NewWriterSize(r.Stream, MaxRaftFrame), buf: make([]byte, 0, resumeChunk),
		whole: sha256.New()}, nil
}

// snapSend is the sender's side of one InstallSnapshot's data.
type snapSend struct {
	r     *resumeSender
	id    snapshotID
	out   *bufio.Writer // records, in frames of MaxRaftFrame
	buf   []byte        // the chunk being read from raft
	chunk int           // index of the chunk in buf
	held  [][32]byte    // nil until the receiver answered
	asked bool
	whole hash.Hash
	sent  int64
	taken int64 // data read from raft
}

// done reports whether the whole data has gone.
func (s *snapSend) done() bool { return s.taken == s.id.size && len(s.buf) == 0 }

// write takes raft's data into chunks and sends each one whole.
func (s *snapSend) write(p []byte) (int, error) {
	n := 0
	for n < len(p) && s.taken < s.id.size {
		want := s.id.chunkLen(s.chunk) - len(s.buf)
		k := min(want, len(p)-n)
		s.buf = append(s.buf, p[n:n+k]...)
		n += k
		s.taken += int64(k)
		if len(s.buf) < s.id.chunkLen(s.chunk) {
			continue
		}
		if err := s.flushChunk(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// flushChunk sends the chunk in buf (asking the receiver what it holds at chunk 0), and after the
// last one the end record.
func (s *snapSend) flushChunk() error {
	sum := sha256.Sum256(s.buf)
	s.whole.Write(s.buf)
	if !s.asked {
		s.asked = true
		s.id.hash0 = sum
		held, err := s.ask()
		if err != nil {
			return err
		}
		s.held = held
	}
	if s.chunk < len(s.held) && s.held[s.chunk] == sum {
		s.out.WriteByte(resumeSkip)
	} else {
		s.out.WriteByte(resumeData)
		s.out.Write(s.buf)
		s.sent += int64(len(s.buf))
	}
	s.chunk++
	s.buf = s.buf[:0]
	if s.taken < s.id.size {
		return nil
	}
	s.out.WriteByte(resumeEnd)
	s.out.Write(s.whole.Sum(nil))
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

// ask offers the snapshot and reads which chunks the receiver holds. A receiver can claim no more
// chunks than the snapshot has.
func (s *snapSend) ask() ([][32]byte, error) {
	s.out.WriteByte(resumeOffer)
	s.out.Write(s.id.hash0[:])
	if err := s.out.Flush(); err != nil {
		return nil, fmt.Errorf("resume offer: %w", err)
	}
	s.r.inMu.Lock()
	defer s.r.inMu.Unlock()
	in := s.r.in
	kind, err := in.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("resume answer: %w", err)
	}
	if kind != resumeAnswer {
		return nil, fmt.Errorf("%w: answer starts with %#x", errBadResume, kind)
	}
	n, err := binary.ReadUvarint(in)
	if err != nil {
		return nil, fmt.Errorf("resume answer: %w", err)
	}
	if n > uint64(s.id.chunks()) {
		return nil, fmt.Errorf("%w: receiver claims %d chunks of %d", errBadResume, n, s.id.chunks())
	}
	held := make([][32]byte, n)
	for i := range held {
		if _, err := io.ReadFull(in, held[i][:]); err != nil {
			return nil, fmt.Errorf("resume answer: %w", err)
		}
	}
	return held, nil
}

// report tells the layer how the transfer went.
func (s *snapSend) report(err error) {
	s.r.l.endSend(s.r)
	s.r.l.snapshotDone(SnapshotTransfer{Group: s.id.group, Peer: s.r.to, Sending: true, Size: s.id.size,
		Resumed: s.resumedBytes(), Sent: s.sent, Err: err})
}

// resumedBytes is the data the receiver held and was not sent, so far.
func (s *snapSend) resumedBytes() int64 {
	var n int64
	for i := 0; i < s.chunk; i++ {
		n += int64(s.id.chunkLen(i))
	}
	return n - s.sent
}

// mpScanner finds where one msgpack value ends in bytes fed to it piece by piece: scanMsgpack's
// walk, for bytes that are written rather than read. It only reads this node's own raft's
// requests, so it bounds nothing.
type mpScanner struct {
	pending   uint64 // values still to start
	need      int    // bytes of a length prefix still to come
	length    uint64 // the length prefix so far
	container uint64 // values per counted item when the prefix counts items, else 0
	extra     uint64 // bytes after the prefix beyond its count (an ext's type byte)
	skip      uint64 // payload bytes still to pass
}

// feed consumes bytes of p up to the end of the value, and reports whether it ended.
func (s *mpScanner) feed(p []byte) (int, bool) {
	n := 0
	for {
		switch {
		case s.skip == 0 && s.need == 0 && s.pending == 0:
			return n, true
		case n == len(p):
			return n, false
		case s.skip > 0:
			k := min(s.skip, uint64(len(p)-n))
			n += int(k)
			s.skip -= k
		case s.need > 0:
			s.length = s.length<<8 | uint64(p[n])
			n++
			if s.need--; s.need == 0 {
				if s.container > 0 {
					s.pending += s.container * s.length
				} else {
					s.skip = s.length + s.extra
				}
			}
		default:
			s.start(p[n])
			n++
		}
	}
}

// start reads the first byte of a value.
func (s *mpScanner) start(b byte) {
	s.pending--
	s.length, s.container, s.extra = 0, 0, 0
	switch {
	case b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3:
	case b <= 0x8f:
		s.pending += 2 * uint64(b&0x0f)
	case b <= 0x9f:
		s.pending += uint64(b & 0x0f)
	case b <= 0xbf:
		s.skip = uint64(b & 0x1f)
	default:
		switch b {
		case 0xc4, 0xd9:
			s.need = 1
		case 0xc5, 0xda:
			s.need = 2
		case 0xc6, 0xdb:
			s.need = 4
		case 0xc7:
			s.need, s.extra = 1, 1
		case 0xc8:
			s.need, s.extra = 2, 1
		case 0xc9:
			s.need, s.extra = 4, 1
		case 0xcc, 0xd0:
			s.skip = 1
		case 0xcd, 0xd1:
			s.skip = 2
		case 0xca, 0xce, 0xd2:
			s.skip = 4
		case 0xcb, 0xcf, 0xd3:
			s.skip = 8
		case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
			s.skip = 1 + 1<<(b-0xd4)
		case 0xdc:
			s.need, s.container = 2, 1
		case 0xdd:
			s.need, s.container = 4, 1
		case 0xde:
			s.need, s.container = 2, 2
		case 0xdf:
			s.need, s.container = 4, 2
		}
	}
}
