package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/durable"
)

// The journal file: a 16-byte magic, then frames, one per durable batch:
//
//	u32 body length | u32 CRC-32C of body | body
//	body = u32 count | count × (u32 value length | value)
//
// little-endian, where each value is exactly the bytes the entry will have in bucket "audit". A
// batch is one frame so that a crash mid-write tears at most the last frame, never a hole in the
// middle of an acknowledged sequence. After everything journaled is folded into node.db the writer
// rewinds to the first frame and overwrites; leftover frames further on hold only folded entries
// (sequence numbers at or below node.db's head), which is how recovery tells them from live ones.
var journalMagic = []byte("fedarms-auditj1\n")

const (
	frameHeader = 8
	// maxFrameBody bounds a plausible frame, so that garbage read as a length is rejected early.
	maxFrameBody = 256 << 20
	// DefaultJournalChunk is how much the journal grows by at a time when Options.JournalChunk is 0.
	DefaultJournalChunk = 4 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journal is the open journal file; only the writer goroutine touches it after Open.
type journal struct {
	f     *os.File
	path  string
	off   int64 // logical end: where the next frame goes
	size  int64 // bytes allocated; writing below it changes no file size, so fdatasync stays cheap
	chunk int64
	buf   []byte // frame being built, reused
	// beforeSync, when set by a test, runs before each fdatasync (to stall the writer like a slow disk).
	beforeSync func()
}

// openJournal opens or creates the journal file, claims it for this log, and returns it with its
// current contents.
func openJournal(path string, chunk int64) (*journal, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	// Claim the file before reading it: a second log on it would fold entries under the first and
	// fork the chain. The claim ends when the file is closed, also when the process dies.
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open journal: another audit log has %s open: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read journal: %w", err)
	}
	return &journal{f: f, path: path, chunk: chunk}, data, nil
}

// claim is what a journaled log records in audit_meta about itself: the file it was opened on and
// its journal.
type claim struct {
	DB      string `json:"db"`
	Journal string `json:"journal"`
}

// claimFile records in meta that the log whose journal is at journal writes to the node.db at db,
// and refuses when another log on that same file still holds the journal recorded before: two
// journaled logs on one file would each skip, when folding, entries the other acknowledged. The
// caller holds the lock of its own journal already, so of two logs opened at once the second to
// commit sees the first's journal held. A claim nobody holds any more (its log closed, its process
// died) or made on another path (the file was copied or moved) is simply replaced.
func claimFile(meta *bbolt.Bucket, db, journal string) error {
	var prev claim
	if v := meta.Get(keyJournal); v != nil && json.Unmarshal(v, &prev) == nil &&
		prev.DB == db && prev.Journal != journal && held(prev.Journal) {
		return fmt.Errorf("another audit log with a journal (%s) is open on this file", prev.Journal)
	}
	v, err := json.Marshal(claim{DB: db, Journal: journal})
	if err != nil {
		return fmt.Errorf("claim node.db: %w", err)
	}
	return meta.Put(keyJournal, v)
}

// held reports whether a log holds the journal at path open.
func held(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false // gone: nobody writes it
	}
	defer f.Close() // releases only this descriptor's lock, never the holder's
	return lockFile(f) != nil
}

// reset empties the journal and preallocates its first chunk. Call it only once everything in it
// is durable in node.db.
func (j *journal) reset() error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	if _, err := j.f.WriteAt(journalMagic, 0); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	j.off, j.size = int64(len(journalMagic)), int64(len(journalMagic))
	if err := j.grow(j.chunk - j.off); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	return nil
}

// grow allocates at least n more bytes past the logical end.
func (j *journal) grow(n int64) error {
	want := (j.off + n + j.chunk - 1) / j.chunk * j.chunk
	if want <= j.size {
		return nil
	}
	if err := preallocate(j.f, j.size, want-j.size); err != nil {
		return fmt.Errorf("grow journal: %w", err)
	}
	j.size = want
	return nil
}

// rewind makes the next frame overwrite the first one. Only when every journaled entry is durable
// in node.db.
func (j *journal) rewind() {
	j.off = int64(len(journalMagic))
}

// append writes values as one frame at the logical end and makes it durable with one fdatasync.
func (j *journal) append(values [][]byte) error {
	body := 4
	for _, v := range values {
		body += 4 + len(v)
	}
	buf := j.buf[:0]
	buf = binary.LittleEndian.AppendUint32(buf, uint32(body))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // CRC, filled in below
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(values)))
	for _, v := range values {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(v)))
		buf = append(buf, v...)
	}
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(buf[frameHeader:], castagnoli))
	j.buf = buf
	if j.off+int64(len(buf)) > j.size {
		if err := j.grow(int64(len(buf))); err != nil {
			return err
		}
	}
	if _, err := j.f.WriteAt(buf, j.off); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if j.beforeSync != nil {
		j.beforeSync()
	}
	if err := datasync(j.f); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	j.off += int64(len(buf))
	return nil
}

// close closes the file; with empty, it first truncates it to nothing (everything was folded).
func (j *journal) close(empty bool) error {
	var errs []error
	if empty {
		if err := j.f.Truncate(0); err != nil {
			errs = append(errs, fmt.Errorf("empty journal: %w", err))
		} else if err := j.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("empty journal: %w", err))
		}
	}
	if err := j.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close journal: %w", err))
	}
	return errors.Join(errs...)
}

// syncDir makes a created or renamed file's directory entry durable.
func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("sync journal dir: %w", err)
	}
	return nil
}

// frame is one intact batch found in a journal.
type frame struct {
	off    int64
	values [][]byte
}

// scanJournal returns every intact frame in file order and the offsets where unreadable bytes
// begin (a torn write, leftovers of a rewound frame, or damage). It resynchronises byte by byte
// after unreadable bytes, so that an intact frame behind a damaged one is still seen: recovery
// needs it to tell a torn tail from a hole. Values alias data.
func scanJournal(data []byte) ([]frame, []int64, error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	if !bytes.HasPrefix(data, journalMagic) {
		return nil, nil, errors.New("not an audit journal (bad magic)")
	}
	var frames []frame
	var bad []int64
	inBad := false
	for off := len(journalMagic); off+frameHeader <= len(data); {
		if f, n, ok := parseFrame(data, off); ok {
			frames = append(frames, f)
			off += n
			inBad = false
			continue
		}
		// A frame's length is never 0, so its first 4 bytes are never all zero: skip zero runs
		// (preallocated space never written) in one step.
		nz := bytes.IndexFunc(data[off:], func(r rune) bool { return r != 0 })
		if nz < 0 {
			break
		}
		if nz < 4 && !inBad {
			bad = append(bad, int64(off))
			inBad = true
		}
		off += max(1, nz-3)
	}
	return frames, bad, nil
}

// parseFrame reads the frame at off, reporting its length, or false when it is not intact.
func parseFrame(data []byte, off int) (frame, int, bool) {
	size := int(binary.LittleEndian.Uint32(data[off:]))
	if size < 4 || size > maxFrameBody || off+frameHeader+size > len(data) {
		return frame{}, 0, false
	}
	body := data[off+frameHeader : off+frameHeader+size]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[off+4:]) {
		return frame{}, 0, false
	}
	count := int(binary.LittleEndian.Uint32(body))
	if count == 0 || count > size/4 {
		return frame{}, 0, false
	}
	f := frame{off: int64(off), values: make([][]byte, 0, count)}
	rest := body[4:]
	for range count {
		if len(rest) < 4 {
			return frame{}, 0, false
		}
		n := int(binary.LittleEndian.Uint32(rest))
		if n > len(rest)-4 {
			return frame{}, 0, false
		}
		f.values = append(f.values, rest[4:4+n])
		rest = rest[4+n:]
	}
	if len(rest) != 0 {
		return frame{}, 0, false
	}
	return f, frameHeader + size, true
}
