package replication

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/seal"
)

// A fed holder keeps the bytes of a copy in chunks in a partial file while they arrive, so a copy
// cut part way (the link, the source, this node restarting) resumes where it stopped. One file,
// <holder dir>/feed-partial/copy-<session, 16 hex>-<total>.part:
//
//	magic (partialCopyMagic, or partialCopySealedMagic on an encrypted data dir) | uvarint len,
//	source | uvarint session | uvarint total | then per chunk: uvarint len | Seal(chunk | SHA-256)
//
// each chunk sealed under an AD naming the shard, the session and the chunk's number, so a chunk
// moved within the file or between files does not open. Reading stops at the first record that is
// short or does not open (a write cut by a crash) and the file is cut there.
const (
	partialCopyMagic       = "fedarms-feed-copy/1\n"
	partialCopySealedMagic = "fedarms-feed-copy/1 sealed\n"
	partialCopyDir         = "feed-partial"
	partialCopySync        = 1 << 20 // bytes appended between syncs
)

// copyPartial is the partial file of a copy being received.
type copyPartial struct {
	path    string
	f       *os.File
	key     *seal.Key
	shard   string
	source  string
	session uint64
	total   uint64
	held    uint64    // body bytes held
	chunks  uint64    // chunks held
	prefix  hash.Hash // SHA-256 of the body bytes held
	unsync  int
	// last is when a chunk was last written, as the file said when it was opened (reading it
	// back cuts a torn tail, which moves the file's time).
	last time.Time
}

func partialCopyPath(dir string, session, total uint64) string {
	return filepath.Join(dir, partialCopyDir, fmt.Sprintf("copy-%016x-%d.part", session, total))
}

func (p *copyPartial) ad(chunk uint64) []byte {
	var s, c [8]byte
	binary.BigEndian.PutUint64(s[:], p.session)
	binary.BigEndian.PutUint64(c[:], chunk)
	return seal.AD([]byte("feed-copy"), []byte(p.shard), s[:], c[:])
}

func partialMagicFor(key *seal.Key) string {
	if key.Encrypted() {
		return partialCopySealedMagic
	}
	return partialCopyMagic
}

// createCopyPartial starts the partial file of a new copy, removing any other.
func createCopyPartial(dir, shard string, key *seal.Key, source string, session, total uint64) (*copyPartial, error) {
	if err := removeCopyPartials(dir); err != nil {
		return nil, err
	}
	p := &copyPartial{path: partialCopyPath(dir, session, total), key: key, shard: shard, source: source,
		session: session, total: total, prefix: sha256.New()}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return nil, fmt.Errorf("copy partial: %w", err)
	}
	f, err := os.OpenFile(p.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("copy partial: %w", err)
	}
	hdr := appendFeedString([]byte(partialMagicFor(key)), source)
	hdr = binary.AppendUvarint(hdr, session)
	hdr = binary.AppendUvarint(hdr, total)
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy partial: %w", err)
	}
	p.f = f
	return p, nil
}

func removeCopyPartials(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, partialCopyDir)); err != nil {
		return fmt.Errorf("copy partial: %w", err)
	}
	return nil
}

// openCopyPartial opens the partial file under dir, checking every chunk it holds; nil when there is
// none or it is unusable (then it is removed).
func openCopyPartial(dir, shard string, key *seal.Key) *copyPartial {
	files, _ := filepath.Glob(filepath.Join(dir, partialCopyDir, "copy-*.part"))
	if len(files) != 1 {
		_ = removeCopyPartials(dir)
		return nil
	}
	p, err := readCopyPartial(files[0], shard, key)
	if err != nil {
		_ = removeCopyPartials(dir)
		return nil
	}
	return p
}

func readCopyPartial(path, shard string, key *seal.Key) (*copyPartial, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	p := &copyPartial{path: path, f: f, key: key, shard: shard, prefix: sha256.New()}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p.last = info.ModTime()
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(partialMagicFor(key)))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != partialMagicFor(key) {
		f.Close()
		return nil, errors.New("copy partial: not one of this data dir")
	}
	if p.source, err = readFeedString(br, maxFeedSigner); err == nil {
		if p.session, err = binary.ReadUvarint(br); err == nil {
			p.total, err = binary.ReadUvarint(br)
		}
	}
	// The name must say what the header does: a file renamed is not believed.
	name := strings.TrimSuffix(filepath.Base(path), ".part")
	if err != nil || p.session == 0 || p.total == 0 || p.total > maxFeedCopy ||
		name != "copy-"+fmt.Sprintf("%016x", p.session)+"-"+strconv.FormatUint(p.total, 10) {
		f.Close()
		return nil, errors.New("copy partial: bad header")
	}
	end := int64(len(magic)) + int64(len(appendFeedString(nil, p.source))) + int64(len(binary.AppendUvarint(nil, p.session))) +
		int64(len(binary.AppendUvarint(nil, p.total)))
	for p.held < p.total {
		data, n, err := p.readChunk(br, p.chunks, p.total-p.held)
		if err != nil {
			break // a torn or bad tail: cut here, the source sends it again
		}
		p.prefix.Write(data)
		p.held += uint64(len(data))
		p.chunks++
		end += int64(n)
	}
	if end != info.Size() {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// readChunk reads and opens chunk number i, of at most remaining bytes; n is the bytes it took in
// the file.
func (p *copyPartial) readChunk(br *bufio.Reader, i, remaining uint64) ([]byte, int, error) {
	l, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, 0, err
	}
	if l < sha256.Size || l > copyChunk+sha256.Size+seal.Overhead {
		return nil, 0, fmt.Errorf("copy partial: chunk record of %d bytes", l)
	}
	rec := make([]byte, l)
	if _, err := io.ReadFull(br, rec); err != nil {
		return nil, 0, err
	}
	plain, err := p.key.Open(nil, p.ad(i), rec)
	if err != nil || len(plain) < sha256.Size {
		return nil, 0, fmt.Errorf("copy partial: chunk %d does not open", i)
	}
	data, sum := plain[:len(plain)-sha256.Size], plain[len(plain)-sha256.Size:]
	if len(data) == 0 || uint64(len(data)) > remaining {
		return nil, 0, fmt.Errorf("copy partial: chunk %d of %d bytes", i, len(data))
	}
	if s := sha256.Sum256(data); !bytes.Equal(s[:], sum) {
		return nil, 0, fmt.Errorf("copy partial: chunk %d: %w", i, errChunkSum)
	}
	return data, len(binary.AppendUvarint(nil, l)) + int(l), nil
}

// append adds a chunk that arrived.
func (p *copyPartial) append(data []byte) error {
	sum := sha256.Sum256(data)
	plain := append(append(make([]byte, 0, len(data)+sha256.Size), data...), sum[:]...)
	rec := p.key.Seal(nil, p.ad(p.chunks), plain)
	if _, err := p.f.Write(append(binary.AppendUvarint(nil, uint64(len(rec))), rec...)); err != nil {
		return fmt.Errorf("copy partial: %w", err)
	}
	p.prefix.Write(data)
	p.held += uint64(len(data))
	p.chunks++
	if p.unsync += len(rec); p.unsync >= partialCopySync || p.held == p.total {
		p.unsync = 0
		return p.f.Sync()
	}
	return nil
}

// resume is what a request to resume this copy carries.
func (p *copyPartial) resume() CopyResume {
	r := CopyResume{Session: p.session, Offset: p.held}
	copy(r.Prefix[:], p.prefix.Sum(nil))
	return r
}

// body reads the body held back, chunk by chunk (bounded memory).
func (p *copyPartial) body() (io.Reader, error) {
	f, err := os.Open(p.path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(partialMagicFor(p.key)))
	if _, err := io.ReadFull(br, magic); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := readFeedString(br, maxFeedSigner); err != nil {
		f.Close()
		return nil, err
	}
	for range 2 {
		if _, err := binary.ReadUvarint(br); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &partialBody{p: p, f: f, br: br}, nil
}

// partialBody reads a partial file's chunks as one stream.
type partialBody struct {
	p     *copyPartial
	f     *os.File
	br    *bufio.Reader
	chunk uint64
	read  uint64
	cur   []byte
}

func (b *partialBody) Read(out []byte) (int, error) {
	for len(b.cur) == 0 {
		if b.chunk == b.p.chunks {
			b.f.Close()
			return 0, io.EOF
		}
		data, _, err := b.p.readChunk(b.br, b.chunk, b.p.total-b.read)
		if err != nil {
			b.f.Close()
			return 0, err
		}
		b.read += uint64(len(data))
		b.chunk++
		b.cur = data
	}
	n := copy(out, b.cur)
	b.cur = b.cur[n:]
	return n, nil
}

// Close closes the file, read to its end or not.
func (b *partialBody) Close() error { return b.f.Close() }

// close closes the file; remove removes it too.
func (p *copyPartial) close() { p.f.Close() }

func (p *copyPartial) remove(dir string) {
	p.f.Close()
	_ = removeCopyPartials(dir)
}
