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

	"github.com/libp2p/go-libp2p/core/peer"
)

// snapRecv is the receiver's side of one InstallSnapshot's data on ProtoRaftResume: the guard
// hands raft what it reads here. It answers the sender's offer with the chunks its partial file
// holds, then yields each chunk whole, from the file or from the wire (writing those to the file),
// and the last one only once the whole data's hash matches the sender's.
type snapRecv struct {
	l      *RaftLayer
	from   peer.ID
	src    *bufio.Reader
	answer io.Writer // the stream's write side, for the answer
	id     snapshotID

	mu      sync.Mutex   // Read against close
	started bool         // the offer has been answered
	file    *partialFile // nil: the data is not kept (no directory, over the cap, busy, or failed)
	held    [][32]byte
	chunk   int // the next chunk to load
	buf     []byte
	out     []byte // the loaded chunk's bytes raft has not read
	whole   hash.Hash
	resumed int64
	got     int64 // data that came over the wire
	err     error
	closed  bool
}

// newSnapRecv receives the data of an InstallSnapshot request the guard has let through.
func newSnapRecv(l *RaftLayer, from peer.ID, src *bufio.Reader, answer io.Writer, rpc RaftRPC, size int64) *snapRecv {
	return &snapRecv{l: l, from: from, src: src, answer: answer, whole: sha256.New(),
		id: snapshotID{group: l.group, term: rpc.snapTerm, index: rpc.snapIndex, size: size}}
}

// Read hands raft the snapshot's data in order. A protocol violation by the sender is an error
// wrapping errBadResume; the guard refuses the stream for it.
func (s *snapRecv) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if len(s.out) == 0 {
		if err := s.load(); err != nil {
			s.err = err
			s.finish(err)
			return 0, err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// load makes the next chunk ready: after the exchange's opening, from the partial file or the wire.
func (s *snapRecv) load() error {
	if !s.started {
		if err := s.open(); err != nil {
			return err
		}
	}
	last := s.id.chunks() - 1
	if s.chunk > last {
		return io.EOF // raft reads exactly the size; the guard never asks past it
	}
	n := s.id.chunkLen(s.chunk)
	kind, err := s.src.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	switch kind {
	case resumeSkip:
		if s.file == nil || s.chunk >= len(s.held) {
			return fmt.Errorf("%w: chunk %d skipped, %d held", errBadResume, s.chunk, len(s.held))
		}
		if err := s.file.readHeld(s.chunk, s.buf, s.held[s.chunk]); err != nil {
			// Raft fails this install; the file goes, so the next attempt is sent whole.
			s.drop(err)
			return fmt.Errorf("partial snapshot: %w", err)
		}
		s.resumed += int64(n)
	case resumeData:
		if _, err := io.ReadFull(s.src, s.buf[:n]); err != nil {
			return unexpectedEOF(err)
		}
		s.got += int64(n)
		if s.file != nil {
			if err := s.file.writeChunk(s.chunk, s.buf[:n]); err != nil {
				s.drop(err) // the install goes on, without a partial file
			}
		}
	default:
		return fmt.Errorf("%w: chunk %d starts with %#x", errBadResume, s.chunk, kind)
	}
	s.whole.Write(s.buf[:n])
	if s.chunk == last {
		if err := s.end(); err != nil {
			return err
		}
	}
	s.chunk++
	s.out = s.buf[:n]
	return nil
}

// open reads the sender's offer, opens the partial file of that snapshot and answers with what it
// holds.
func (s *snapRecv) open() error {
	s.started = true
	kind, err := s.src.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	if kind != resumeOffer {
		return fmt.Errorf("%w: offer starts with %#x", errBadResume, kind)
	}
	if _, err := io.ReadFull(s.src, s.id.hash0[:]); err != nil {
		return unexpectedEOF(err)
	}
	s.buf = make([]byte, resumeChunk)
	if ps := s.l.partials; ps != nil {
		f, held, err := ps.open(s.id)
		if err != nil {
			s.l.h.log.Info("snapshot received without a partial file", "group", s.id.group, "peer", s.from, "err", err)
		} else {
			s.file, s.held = f, held
		}
	}
	ans := []byte{resumeAnswer}
	ans = binary.AppendUvarint(ans, uint64(len(s.held)))
	for _, h := range s.held {
		ans = append(ans, h[:]...)
	}
	if _, err := s.answer.Write(ans); err != nil {
		return fmt.Errorf("resume answer: %w", err)
	}
	return nil
}

// end checks the sender's hash of the whole data before raft gets the last chunk.
func (s *snapRecv) end() error {
	kind, err := s.src.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	if kind != resumeEnd {
		return fmt.Errorf("%w: end starts with %#x", errBadResume, kind)
	}
	var want [32]byte
	if _, err := io.ReadFull(s.src, want[:]); err != nil {
		return unexpectedEOF(err)
	}
	if got := s.whole.Sum(nil); string(got) != string(want[:]) {
		s.drop(errors.New("the whole snapshot does not match the sender's hash"))
		return fmt.Errorf("%w: the whole snapshot does not match the sender's hash", errBadResume)
	}
	s.finish(nil)
	return nil
}

// drop throws the partial file away.
func (s *snapRecv) drop(err error) {
	if s.file == nil {
		return
	}
	s.l.h.log.Warn("partial snapshot thrown away", "group", s.id.group, "peer", s.from, "err", err)
	s.file.close(true)
	s.file = nil
}

// finish ends the transfer once: the file goes when the snapshot arrived whole and stays for the
// next attempt otherwise.
func (s *snapRecv) finish(err error) {
	if s.closed {
		return
	}
	s.closed = true
	if s.file != nil {
		s.file.close(err == nil)
		s.file = nil
	}
	s.l.snapshotDone(SnapshotTransfer{Group: s.id.group, Peer: s.from, Size: s.id.size, Resumed: s.resumed,
		Sent: s.got, Err: err})
}

// close releases the partial file when raft closes the stream without reading the data to its end.
func (s *snapRecv) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.finish(errors.New("stream closed before the snapshot's end"))
	}
}
