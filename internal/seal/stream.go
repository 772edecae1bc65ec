package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A sealed stream (a snapshot file at rest):
//
//	magic "fedseal1" | chunks, each: u32 length of sealed chunk | Seal(chunk, AD(ad, u64 index, final))
//
// Every chunk carries its index and whether it is the last, so chunks cannot be reordered,
// dropped or the stream cut at a chunk boundary without Read failing.
var streamMagic = []byte("fedseal1")

// ChunkSize is the plain size of a stream chunk.
const ChunkSize = 64 << 10

// ErrTruncated means a sealed stream ended before its final chunk.
var ErrTruncated = errors.New("sealed stream is cut short")

type streamWriter struct {
	w     io.Writer
	k     *Key
	ad    []byte
	buf   []byte
	out   []byte
	index uint64
	err   error
}

// NewWriter returns a writer that seals what is written to it into w; Close writes the final
// chunk (and does not close w). A nil Key returns w itself, wrapped only to satisfy Close.
func (k *Key) NewWriter(w io.Writer, ad []byte) io.WriteCloser {
	if k == nil {
		return nopCloser{w}
	}
	sw := &streamWriter{w: w, k: k, ad: ad, buf: make([]byte, 0, ChunkSize)}
	_, sw.err = w.Write(streamMagic)
	return sw
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (s *streamWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && s.err == nil {
		if len(s.buf) == ChunkSize {
			s.flush(false)
			continue
		}
		c := copy(s.buf[len(s.buf):ChunkSize], p)
		s.buf = s.buf[:len(s.buf)+c]
		p, n = p[c:], n+c
	}
	return n, s.err
}

func (s *streamWriter) flush(final bool) {
	if s.err != nil {
		return
	}
	s.out = s.k.Seal(append(s.out[:0], 0, 0, 0, 0), chunkAD(s.ad, s.index, final), s.buf)
	binary.BigEndian.PutUint32(s.out, uint32(len(s.out)-4))
	_, s.err = s.w.Write(s.out)
	s.buf = s.buf[:0]
	s.index++
}

func (s *streamWriter) Close() error {
	s.flush(true)
	return s.err
}

func chunkAD(ad []byte, index uint64, final bool) []byte {
	var f byte
	if final {
		f = 1
	}
	return AD(ad, binary.BigEndian.AppendUint64(nil, index), []byte{f})
}

type streamReader struct {
	r     io.Reader
	k     *Key
	ad    []byte
	plain []byte // what is left of the current chunk
	pbuf  []byte // the current chunk's buffer, reused
	in    []byte
	index uint64
	done  bool
	err   error
}

// NewReader returns a reader of the plain bytes of a stream NewWriter sealed with the same ad.
// A nil Key returns r itself.
func (k *Key) NewReader(r io.Reader, ad []byte) io.Reader {
	if k == nil {
		return r
	}
	sr := &streamReader{r: r, k: k, ad: ad}
	magic := make([]byte, len(streamMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, streamMagic) {
		sr.err = fmt.Errorf("%w: not a sealed stream", ErrOpen)
	}
	return sr
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		s.next()
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

func (s *streamReader) next() {
	var hdr [4]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		s.err = ErrTruncated
		return
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < Overhead || n > ChunkSize+Overhead {
		s.err = fmt.Errorf("%w: chunk %d of %d bytes", ErrOpen, s.index, n)
		return
	}
	if cap(s.in) < int(n) {
		s.in = make([]byte, n)
	}
	s.in = s.in[:n]
	if _, err := io.ReadFull(s.r, s.in); err != nil {
		s.err = ErrTruncated
		return
	}
	// Try the chunk as a middle one, then as the last: the flag is only in the associated data.
	plain, err := s.k.Open(s.pbuf[:0], chunkAD(s.ad, s.index, false), s.in)
	if err != nil {
		if plain, err = s.k.Open(s.pbuf[:0], chunkAD(s.ad, s.index, true), s.in); err != nil {
			s.err = fmt.Errorf("chunk %d: %w", s.index, err)
			return
		}
		s.done = true
		var extra [1]byte
		if n, _ := s.r.Read(extra[:]); n > 0 {
			s.err = fmt.Errorf("%w: data after the final chunk", ErrOpen)
			return
		}
	}
	s.pbuf, s.plain = plain, plain
	s.index++
}
