package transport

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// A node keeps the bytes of each incoming snapshot in a partial file while they arrive, so that a
// transfer cut part way resumes where it stopped (raft_resume.go). One file per snapshot, named by
// everything that makes it the same snapshot:
//
//	<hex group>-<last term>-<last index>-<size>-<sender's hash of chunk 0, 16 hex>.part
//
// It opens with a header repeating those fields in full (so a file renamed into another group's
// or snapshot's name is not believed), then the chunks at fixed offsets, each its SHA-256 and its
// bytes:
//
//	"fedarms-partial-snapshot/1\n"  uvarint(len) group  uvarint term  uvarint index  uvarint size
//	uvarint chunk size  32 bytes hash of chunk 0  then per chunk: 32 bytes SHA-256, the chunk
//
// The group comes from the layer the stream reached, never from the peer, and appears in the name
// only hex-encoded: a peer cannot name a path, nor resume into another group's file.

// partialMagic opens every partial file; partialSealedMagic one whose chunks are sealed at rest.
const (
	partialMagic       = "fedarms-partial-snapshot/1\n"
	partialSealedMagic = "fedarms-partial-snapshot/1 sealed\n"
)

// Defaults of a SnapshotPartials.
const (
	DefaultMaxPartialFiles = 4
	DefaultMaxPartialBytes = 8 << 30
)

// ErrPartialBusy is a partial file another stream of the same snapshot is writing.
var ErrPartialBusy = errors.New("partial snapshot in use by another stream")

// errPartialCorrupt is a chunk of a partial file whose bytes do not match its checksum.
var errPartialCorrupt = errors.New("partial snapshot chunk does not match its checksum")

// SnapshotPartials is the directory where a node keeps incoming snapshots while they arrive; one
// is shared by every raft group of a host. It holds at most MaxFiles files (the oldest go first)
// of at most MaxBytes of snapshot each; a snapshot larger than that is received without one (and
// cannot resume).
type SnapshotPartials struct {
	dir      string
	maxFiles int
	maxBytes int64
	log      *slog.Logger

	// sealer, when set, encrypts each chunk record at rest (a data dir encrypted at rest holds no
	// snapshot byte in clear); overhead is what sealing adds to a record. Set before first use.
	sealer   PartialSealer
	overhead int

	mu    sync.Mutex
	inUse map[string]bool // guarded by mu: names a stream is writing
}

// PartialSealer encrypts partial-snapshot chunks at rest: Seal appends the sealed form of plain
// to dst under the associated data ad; Open reverses it and fails on anything Seal did not make
// under the same ad.
type PartialSealer interface {
	Seal(dst, ad, plain []byte) []byte
	Open(dst, ad, sealed []byte) ([]byte, error)
}

// SealWith makes every chunk written from now on sealed by k, which adds overhead bytes to each;
// call it once, before the first snapshot arrives. Partial files written unsealed are not read
// (their header differs) and start again.
func (s *SnapshotPartials) SealWith(k PartialSealer, overhead int) {
	s.sealer, s.overhead = k, overhead
}

// NewSnapshotPartials keeps partial snapshots in dir (created 0700); maxFiles and maxBytes of 0
// take the defaults.
func NewSnapshotPartials(dir string, maxFiles int, maxBytes int64, log *slog.Logger) (*SnapshotPartials, error) {
	if maxFiles <= 0 {
		maxFiles = DefaultMaxPartialFiles
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPartialBytes
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("partial snapshots: %w", err)
	}
	return &SnapshotPartials{dir: dir, maxFiles: maxFiles, maxBytes: maxBytes, log: log, inUse: map[string]bool{}}, nil
}

// Files lists the partial files held, by name.
func (s *SnapshotPartials) Files() []string {
	ents, _ := os.ReadDir(s.dir)
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".part") {
			out = append(out, e.Name())
		}
	}
	return out
}

// snapshotID is what makes two transfers the same snapshot.
type snapshotID struct {
	group       string
	term, index uint64
	size        int64
	hash0       [32]byte // the sender's SHA-256 of chunk 0
}

// name is the partial file's name.
func (id snapshotID) name() string {
	return fmt.Sprintf("%s-%d-%d-%d-%s.part", id.groupPrefix(), id.term, id.index, id.size, hex.EncodeToString(id.hash0[:8]))
}

// groupPrefix starts the name of every partial file of the group.
func (id snapshotID) groupPrefix() string { return hex.EncodeToString([]byte(id.group)) }

// header is the partial file's header for this snapshot; a sealed file has another magic, so
// neither kind is read as the other.
func (id snapshotID) header(sealed bool) []byte {
	b := []byte(partialMagic)
	if sealed {
		b = []byte(partialSealedMagic)
	}
	b = binary.AppendUvarint(b, uint64(len(id.group)))
	b = append(b, id.group...)
	b = binary.AppendUvarint(b, id.term)
	b = binary.AppendUvarint(b, id.index)
	b = binary.AppendUvarint(b, uint64(id.size))
	b = binary.AppendUvarint(b, resumeChunk)
	return append(b, id.hash0[:]...)
}

// chunks is how many chunks the snapshot's data makes.
func (id snapshotID) chunks() int { return int((id.size + resumeChunk - 1) / resumeChunk) }

// chunkLen is the length of chunk i (the last may be shorter).
func (id snapshotID) chunkLen(i int) int {
	return int(min(resumeChunk, id.size-int64(i)*resumeChunk))
}

// partialFile is one snapshot's partial file, held by one stream.
type partialFile struct {
	s    *SnapshotPartials
	id   snapshotID
	f    *os.File
	base int64 // bytes of header
	// seed is another snapshot of the group whose chunks the answer offered instead of this file's
	// (which held none): a snapshot taken again at a later index often has most chunks in common.
	seed *partialFile
}

// open returns the partial file of id and the checksums of the chunks it holds, in order from
// chunk 0; it creates the file when there is none, and starts it again when what is there is
// not whole (a chunk that does not match its checksum throws the file away: the transfer starts
// from zero). Other partial files of the group (older snapshots) are removed, and the oldest files
// beyond the count cap.
func (s *SnapshotPartials) open(id snapshotID) (*partialFile, [][32]byte, error) {
	if id.size <= 0 || id.size > s.maxBytes {
		return nil, nil, fmt.Errorf("partial snapshot of %d bytes: over the %d-byte cap", id.size, s.maxBytes)
	}
	name := id.name()
	s.mu.Lock()
	if s.inUse[name] {
		s.mu.Unlock()
		return nil, nil, ErrPartialBusy
	}
	s.inUse[name] = true
	s.mu.Unlock()
	p, held, err := s.openHeld(id, name)
	if err != nil {
		s.release(name)
		return nil, nil, err
	}
	if len(held) == 0 {
		if seed, seedHeld := s.openSeed(id, name); seed != nil {
			p.seed, held = seed, seedHeld
		}
	}
	keep := []string{name}
	if p.seed != nil {
		keep = append(keep, p.seed.id.name())
	}
	s.prune(id, keep)
	return p, held, nil
}

// openHeld opens or creates the file and checks what it holds.
func (s *SnapshotPartials) openHeld(id snapshotID, name string) (*partialFile, [][32]byte, error) {
	path := filepath.Join(s.dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("partial snapshot: %w", err)
	}
	hdr := id.header(s.sealer != nil)
	p := &partialFile{s: s, id: id, f: f, base: int64(len(hdr))}
	held, err := p.held(hdr)
	if err != nil {
		s.log.Warn("partial snapshot thrown away", "file", name, "err", err)
		held = nil
	}
	if len(held) == 0 {
		// Nothing usable: start the file again with its header.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("partial snapshot: %w", err)
		}
		if _, err := f.WriteAt(hdr, 0); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("partial snapshot: %w", err)
		}
	}
	if err := f.Truncate(p.chunkOffset(len(held))); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("partial snapshot: %w", err)
	}
	return p, held, nil
}

// held reads the checksums of the whole chunks the file holds, checking each chunk against its
// own. A header that is not this snapshot's, or a chunk that does not match, is an error; a file
// that ends inside a chunk (a write the process did not finish) holds the chunks before it.
func (p *partialFile) held(hdr []byte) ([][32]byte, error) {
	got := make([]byte, len(hdr))
	if _, err := p.f.ReadAt(got, 0); err != nil {
		return nil, nil // empty or shorter than a header: a new file
	}
	if !bytes.Equal(got, hdr) {
		return nil, errors.New("header names another snapshot")
	}
	var out [][32]byte
	buf := make([]byte, resumeChunk)
	for i := range p.id.chunks() {
		sum, err := p.readChunk(i, buf)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", i, err)
		}
		out = append(out, sum)
	}
	return out, nil
}

// chunkOffset is where chunk i's record starts.
func (p *partialFile) chunkOffset(i int) int64 {
	return p.base + int64(i)*int64(32+resumeChunk+p.s.overhead)
}

// chunkAD binds a sealed chunk to its snapshot and place, so a chunk moved within or between
// files does not open.
func (p *partialFile) chunkAD(i int) []byte {
	return binary.AppendUvarint(p.id.header(true), uint64(i))
}

// writeChunk stores chunk i: its SHA-256, then its bytes. It is the only write of snapshot bytes
// to disk on this path (a layer that encrypts at rest wraps it and readChunk).
func (p *partialFile) writeChunk(i int, data []byte) error {
	sum := sha256.Sum256(data)
	rec := make([]byte, 0, 32+len(data))
	rec = append(append(rec, sum[:]...), data...)
	if p.s.sealer != nil {
		rec = p.s.sealer.Seal(make([]byte, 0, len(rec)+p.s.overhead), p.chunkAD(i), rec)
	}
	if _, err := p.f.WriteAt(rec, p.chunkOffset(i)); err != nil {
		return fmt.Errorf("partial snapshot chunk %d: %w", i, err)
	}
	return nil
}

// readChunk reads chunk i into buf (at least the chunk's length) and checks it against its stored
// SHA-256, which it returns; io.EOF or io.ErrUnexpectedEOF when the file does not hold it whole.
func (p *partialFile) readChunk(i int, buf []byte) ([32]byte, error) {
	var sum [32]byte
	n := p.id.chunkLen(i)
	rec := make([]byte, 32+n+p.s.overhead)
	if _, err := p.f.ReadAt(rec, p.chunkOffset(i)); err != nil {
		if errors.Is(err, io.EOF) {
			return sum, io.ErrUnexpectedEOF
		}
		return sum, fmt.Errorf("partial snapshot chunk %d: %w", i, err)
	}
	if p.s.sealer != nil {
		plain, err := p.s.sealer.Open(nil, p.chunkAD(i), rec)
		if err != nil || len(plain) != 32+n {
			return sum, errPartialCorrupt
		}
		rec = plain
	}
	copy(sum[:], rec)
	copy(buf, rec[32:])
	if sha256.Sum256(buf[:n]) != sum {
		return sum, errPartialCorrupt
	}
	return sum, nil
}

// close lets another stream open the file; remove also deletes it (the snapshot arrived whole, or
// the file cannot be trusted).
func (p *partialFile) close(remove bool) {
	p.f.Close()
	if remove {
		_ = os.Remove(p.f.Name())
	}
	p.s.release(p.id.name())
	if p.seed != nil {
		// Once this snapshot arrived whole the seed's is superseded; otherwise it may seed again.
		p.seed.close(remove)
		p.seed = nil
	}
}

// release forgets that a stream holds name.
func (s *SnapshotPartials) release(name string) {
	s.mu.Lock()
	delete(s.inUse, name)
	s.mu.Unlock()
}

// prune removes the group's other partial files (a newer snapshot supersedes them) and the oldest
// files beyond the count cap; files a stream is writing stay.
func (s *SnapshotPartials) prune(id snapshotID, keep []string) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  int64
	}
	var rest []file
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".part") || slices.Contains(keep, n) {
			continue
		}
		s.mu.Lock()
		busy := s.inUse[n]
		s.mu.Unlock()
		if busy {
			continue
		}
		if strings.HasPrefix(n, id.groupPrefix()+"-") {
			s.log.Info("partial snapshot superseded", "file", n, "by", keep[0])
			_ = os.Remove(filepath.Join(s.dir, n))
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		rest = append(rest, file{n, info.ModTime().UnixNano()})
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].mod > rest[j].mod })
	for i := s.maxFiles - 1; i < len(rest); i++ {
		s.log.Info("partial snapshot dropped: too many", "file", rest[i].name)
		_ = os.Remove(filepath.Join(s.dir, rest[i].name))
	}
}
