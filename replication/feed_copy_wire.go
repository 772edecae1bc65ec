package replication

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A copy in chunks (request kind FeedCopyChunks) carries the same body as a FeedCopy answer (a
// checkpoint, the entries after the snapshot up to it, a FEDSNAP1 stream), cut into checksummed
// chunks so that a copy cut part way resumes where it stopped:
//
//	request, after the common fields: uvarint session | uvarint offset | 32-byte SHA-256 of the
//	         body's first offset bytes (session 0: a new copy; the offset and hash are then 0)
//	answer, inside the zstd stream: uvarint session | uvarint total | uvarint offset
//	         | chunks up to total: uvarint len (1..copyChunk) | len bytes | 32-byte SHA-256 of them
//
// The source holds the state the copy was taken from (its read transaction) for a while under the
// session it names, so asked again it writes the same bytes and goes on from the offset; it
// resumes only for the member that began the copy and only when the asker's hash of the bytes it
// holds is its own (anything else: feedNoSession, and the asker starts a new copy). The body is
// verified as a FeedCopy's is, against the signed checkpoint, once whole.

// copyChunk is the most body bytes in one chunk: what a cut costs at most to send again.
const copyChunk = 64 << 10

// maxFeedCopy bounds the body of a copy a source may announce (what the asker gives it on disk).
const maxFeedCopy = 1 << 40

// CopyResume names where a copy in chunks picks up: the session its source opened, the bytes of
// the body already held, and their SHA-256.
type CopyResume struct {
	Session uint64
	Offset  uint64
	Prefix  [sha256.Size]byte
}

func (c CopyResume) appendWire(b []byte) []byte {
	b = binary.AppendUvarint(b, c.Session)
	b = binary.AppendUvarint(b, c.Offset)
	return append(b, c.Prefix[:]...)
}

func readCopyResume(r *bufio.Reader) (CopyResume, error) {
	var c CopyResume
	var err error
	if c.Session, err = binary.ReadUvarint(r); err != nil {
		return c, fmt.Errorf("copy session: %w", err)
	}
	if c.Offset, err = binary.ReadUvarint(r); err != nil {
		return c, fmt.Errorf("copy offset: %w", err)
	}
	if c.Offset > maxFeedCopy {
		return c, fmt.Errorf("copy offset %d over %d", c.Offset, uint64(maxFeedCopy))
	}
	if _, err := io.ReadFull(r, c.Prefix[:]); err != nil {
		return c, fmt.Errorf("copy prefix hash: %w", err)
	}
	return c, nil
}

// copyHeader opens a copy answer's body.
type copyHeader struct {
	session, total, offset uint64
}

func (h copyHeader) appendWire(b []byte) []byte {
	b = binary.AppendUvarint(b, h.session)
	b = binary.AppendUvarint(b, h.total)
	return binary.AppendUvarint(b, h.offset)
}

func readCopyHeader(r *bufio.Reader) (copyHeader, error) {
	var h copyHeader
	for _, p := range []*uint64{&h.session, &h.total, &h.offset} {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return h, fmt.Errorf("copy header: %w", err)
		}
		*p = v
	}
	switch {
	case h.session == 0:
		return h, errors.New("copy header: session 0")
	case h.total == 0 || h.total > maxFeedCopy:
		return h, fmt.Errorf("copy header: %d bytes", h.total)
	case h.offset > h.total:
		return h, fmt.Errorf("copy header: offset %d past %d bytes", h.offset, h.total)
	}
	return h, nil
}

// errChunkSum: a chunk's bytes are not those its checksum names.
var errChunkSum = errors.New("chunk checksum differs")

// readCopyChunk reads one chunk of at most limit bytes into buf (of copyChunk bytes) and checks it.
func readCopyChunk(r *bufio.Reader, limit int, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > uint64(min(limit, copyChunk, len(buf))) {
		return nil, fmt.Errorf("chunk of %d bytes (at most %d)", n, min(limit, copyChunk))
	}
	data := buf[:n]
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	var sum [sha256.Size]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return nil, err
	}
	if sha256.Sum256(data) != sum {
		return nil, errChunkSum
	}
	return data, nil
}

// chunkWriter cuts what is written to it into chunks on w, after skipping the first skip bytes
// (those the asker holds); raw writes each chunk's bytes alone, in one Write (to a spool).
type chunkWriter struct {
	w    io.Writer
	skip uint64
	buf  []byte
	raw  bool
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	if c.skip > 0 {
		k := min(uint64(len(p)), c.skip)
		c.skip -= k
		p = p[k:]
	}
	for len(p) > 0 {
		k := min(len(p), copyChunk-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		if len(c.buf) == copyChunk {
			if err := c.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush writes the chunk buffered so far, if any.
func (c *chunkWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	if c.raw {
		_, err := c.w.Write(c.buf)
		c.buf = c.buf[:0]
		return err
	}
	sum := sha256.Sum256(c.buf)
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64), uint64(len(c.buf)))
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return err
	}
	if _, err := c.w.Write(sum[:]); err != nil {
		return err
	}
	c.buf = c.buf[:0]
	return nil
}

// errPrefixRead ends the writing of a body once its prefix is hashed.
var errPrefixRead = errors.New("prefix read")

// prefixHasher hashes the first n bytes written to it and then stops the writer with errPrefixRead.
type prefixHasher struct {
	h interface{ Write([]byte) (int, error) }
	n uint64
}

func (p *prefixHasher) Write(b []byte) (int, error) {
	k := min(uint64(len(b)), p.n)
	_, _ = p.h.Write(b[:k])
	p.n -= k
	if p.n == 0 {
		return int(k), errPrefixRead
	}
	return len(b), nil
}

// byteCounter counts what is written to it.
type byteCounter struct{ n uint64 }

func (c *byteCounter) Write(b []byte) (int, error) { c.n += uint64(len(b)); return len(b), nil }
