package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/fedarms/fedarms/internal/seal"
)

var (
	// ErrStableKeyNotFound is returned by Get and GetUint64 for a key never set. Its text must stay
	// exactly "not found": raft compares err.Error() to that string to recognise a fresh store.
	ErrStableKeyNotFound = errors.New("not found")
	// ErrLogStoreLocked means another process holds the log store file open.
	ErrLogStoreLocked = errors.New("log store is locked by another process")
	// ErrLogCorrupt means a stored log entry or stable value failed to decode.
	ErrLogCorrupt = errors.New("corrupt raft log store value")
)

var (
	raftLogsBucket = []byte("logs")
	raftConfBucket = []byte("conf")
)

// defaultLogStoreLockTimeout bounds the wait for the file lock so a second process fails fast
// with ErrLogStoreLocked instead of hanging.
const defaultLogStoreLockTimeout = time.Second

// Compile-time proof that LogStore satisfies both raft storage interfaces.
var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

// LogStoreOptions tunes OpenLogStore; the zero value is right for production.
type LogStoreOptions struct {
	// NoSync skips fsync on commit. Only for tests and benchmarks: a crash loses acknowledged entries.
	NoSync bool
	// LockTimeout is how long to wait for another process to release the file; zero means one second.
	LockTimeout time.Duration
	// Key seals every log entry at rest (nil: a plain data dir). The stable store's values (raft's
	// term and vote) stay plain: they say nothing of the records.
	Key *seal.Key
}

// LogStore is a raft log store and stable store in one bbolt file; safe for concurrent use.
type LogStore struct {
	db   *bbolt.DB
	path string
	key  *seal.Key
}

// OpenLogStore opens or creates the bbolt file at path, creating its parent directory if needed.
func OpenLogStore(path string, opts LogStoreOptions) (*LogStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open log store: %w", err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = defaultLogStoreLockTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: timeout,
		// The map freelist is fast to rebuild, and not syncing it keeps each commit to the
		// pages that changed; the cost is a freelist scan on open.
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
		NoSync:         opts.NoSync,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open log store %s: %w; stop the other process using this data directory", path, ErrLogStoreLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open log store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{raftLogsBucket, raftConfBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open log store %s: create buckets: %w", path, err)
	}
	return &LogStore{db: db, path: path, key: opts.Key}, nil
}

// Close releases the file and its lock; raft must be shut down first.
func (s *LogStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close log store: %w", err)
	}
	return nil
}

// Path is the bbolt file the store was opened on.
func (s *LogStore) Path() string { return s.path }

// FirstIndex returns the lowest stored index, or 0 when the log is empty.
func (s *LogStore) FirstIndex() (uint64, error) {
	return s.edgeIndex((*bbolt.Cursor).First)
}

// LastIndex returns the highest stored index, or 0 when the log is empty.
func (s *LogStore) LastIndex() (uint64, error) {
	return s.edgeIndex((*bbolt.Cursor).Last)
}

func (s *LogStore) edgeIndex(move func(*bbolt.Cursor) ([]byte, []byte)) (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		k, _ := move(tx.Bucket(raftLogsBucket).Cursor())
		if k == nil {
			return nil
		}
		if len(k) != 8 {
			return fmt.Errorf("%w: log key of %d bytes", ErrLogCorrupt, len(k))
		}
		idx = binary.BigEndian.Uint64(k)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read log index: %w", err)
	}
	return idx, nil
}

// GetLog fills log with the entry at index; raft.ErrLogNotFound (unwrapped, raft compares with ==)
// when there is none.
func (s *LogStore) GetLog(index uint64, log *raft.Log) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], index)
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(raftLogsBucket).Get(key[:])
		if v == nil {
			return raft.ErrLogNotFound
		}
		v, err := s.open(key[:], v)
		if err != nil {
			return err
		}
		if err := decodeRaftLog(v, log); err != nil {
			return err
		}
		if log.Index != index {
			return fmt.Errorf("%w: entry under index %d claims index %d", ErrLogCorrupt, index, log.Index)
		}
		return nil
	})
	if errors.Is(err, raft.ErrLogNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	return nil
}

// StoreLog stores one entry with its own fsync.
func (s *LogStore) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs stores all entries in one transaction, so a batch costs one fsync and lands whole or
// not at all.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	// bbolt keeps references to keys and values until commit, so every entry gets its own slice
	// of two shared buffers: two allocations per batch instead of two per entry.
	size := 0
	for _, l := range logs {
		size += raftLogMaxOverhead + seal.Overhead + len(l.Data) + len(l.Extensions)
	}
	var plain []byte
	keys := make([]byte, 8*len(logs))
	vals := make([]byte, 0, size)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(raftLogsBucket)
		for i, l := range logs {
			key := keys[8*i : 8*i+8]
			binary.BigEndian.PutUint64(key, l.Index)
			start := len(vals)
			if s.key == nil {
				vals = appendRaftLog(vals, l)
			} else {
				plain = appendRaftLog(plain[:0], l)
				vals = s.key.Seal(vals, logEntryAD(key), plain)
			}
			if err := b.Put(key, vals[start:]); err != nil {
				return fmt.Errorf("index %d: %w", l.Index, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store logs: %w", err)
	}
	return nil
}

// DeleteRange removes every entry with min <= index <= max in one transaction. It walks a cursor
// from min, so the cost follows the entries present, not the width of the range.
func (s *LogStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	var start [8]byte
	binary.BigEndian.PutUint64(start[:], min)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		c := tx.Bucket(raftLogsBucket).Cursor()
		// Delete then Next is bbolt's own idiom and is safe here: the cursor walks the committed
		// pages, which a delete does not shift, because nothing in this transaction wrote to
		// the bucket before the cursor was placed. It is twice as fast as re-seeking each key.
		for k, _ := c.Seek(start[:]); k != nil; k, _ = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("%w: log key of %d bytes", ErrLogCorrupt, len(k))
			}
			if binary.BigEndian.Uint64(k) > max {
				return nil
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete logs %d-%d: %w", min, max, err)
	}
	return nil
}

// open returns the plain encoding of the entry stored under key.
func (s *LogStore) open(key, v []byte) ([]byte, error) {
	if s.key == nil {
		return v, nil
	}
	p, err := s.key.Open(nil, logEntryAD(key), v)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %x: %w", ErrLogCorrupt, key, err)
	}
	return p, nil
}

// Set stores val under key in the stable store.
func (s *LogStore) Set(key, val []byte) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(raftConfBucket).Put(key, val)
	})
	if err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}

// Get returns a copy of the value under key, or ErrStableKeyNotFound unwrapped so raft's
// string comparison recognises it.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		// A cursor rather than Bucket.Get tells an empty value apart from a missing key.
		k, v := tx.Bucket(raftConfBucket).Cursor().Seek(key)
		if k == nil || !bytes.Equal(k, key) {
			return ErrStableKeyNotFound
		}
		val = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	if errors.Is(err, ErrStableKeyNotFound) {
		return nil, ErrStableKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return val, nil
}

// SetUint64 stores val big-endian under key.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], val)
	return s.Set(key, buf[:])
}

// GetUint64 returns the value under key, or 0 and ErrStableKeyNotFound when it was never set.
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(val) != 8 {
		return 0, fmt.Errorf("get %q: %w: uint64 of %d bytes", key, ErrLogCorrupt, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}

// raftLogVersion leads every encoded entry so the format can change without a migration: a
// decoder meeting an unknown version fails loudly instead of misreading bytes.
const raftLogVersion = 1

// raftLogMaxOverhead bounds the encoded size beyond Data and Extensions: version, five uvarints
// and a varint of at most 10 bytes each, type, and the CRC.
const raftLogMaxOverhead = 1 + 6*binary.MaxVarintLen64 + 1 + 4

// raftLogCRC is CRC-32C, hardware-accelerated on amd64 and arm64. bbolt checksums only its meta
// pages, so without this a flipped bit in Data would reach the FSM unnoticed.
var raftLogCRC = crc32.MakeTable(crc32.Castagnoli)

// appendRaftLog encodes l after dst:
//
//	version(1) | uvarint index | uvarint term | type(1) | uvarint len | data | uvarint len | ext
//	| varint unix seconds | uvarint nanoseconds | CRC-32C of all previous bytes (4, big-endian)
//
// AppendedAt keeps its instant but not its location; the zero time round-trips as the zero time.
func appendRaftLog(dst []byte, l *raft.Log) []byte {
	start := len(dst)
	dst = append(dst, raftLogVersion)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
	dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], raftLogCRC))
}

// decodeRaftLog parses an appendRaftLog encoding into out, copying Data and Extensions so out
// stays valid after the bbolt transaction ends. Any malformed input yields ErrLogCorrupt.
func decodeRaftLog(v []byte, out *raft.Log) error {
	if len(v) < 1+4 {
		return fmt.Errorf("%w: %d bytes is too short", ErrLogCorrupt, len(v))
	}
	if v[0] != raftLogVersion {
		return fmt.Errorf("%w: unknown format version %d", ErrLogCorrupt, v[0])
	}
	body, sum := v[:len(v)-4], binary.BigEndian.Uint32(v[len(v)-4:])
	if got := crc32.Checksum(body, raftLogCRC); got != sum {
		return fmt.Errorf("%w: checksum %08x, stored %08x", ErrLogCorrupt, got, sum)
	}
	d := raftLogDecoder{buf: body[1:]}
	index := d.uvarint("index")
	term := d.uvarint("term")
	typ := d.byte("type")
	data := d.bytes("data")
	ext := d.bytes("extensions")
	sec := d.varint("appended seconds")
	nsec := d.uvarint("appended nanoseconds")
	if d.err == nil && nsec >= uint64(time.Second) {
		d.err = fmt.Errorf("appended nanoseconds %d out of range", nsec)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.buf))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %w", ErrLogCorrupt, d.err)
	}
	// One allocation holds both payloads; the capacity limit stops an append to Data from
	// overwriting Extensions.
	var payload []byte
	if n := len(data) + len(ext); n > 0 {
		payload = make([]byte, n)
		copy(payload, data)
		copy(payload[len(data):], ext)
	}
	*out = raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(typ),
		AppendedAt: time.Unix(sec, int64(nsec)).UTC(),
	}
	if len(data) > 0 {
		out.Data = payload[:len(data):len(data)]
	}
	if len(ext) > 0 {
		out.Extensions = payload[len(data):]
	}
	return nil
}

// raftLogDecoder reads fields in order and remembers the first failure, so decodeRaftLog reads
// as a list of fields rather than a ladder of error checks.
type raftLogDecoder struct {
	buf []byte
	err error
}

func (d *raftLogDecoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("bad %s varint", field)
		return 0
	}
	d.buf = d.buf[n:]
	return x
}

func (d *raftLogDecoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("bad %s varint", field)
		return 0
	}
	d.buf = d.buf[n:]
	return x
}

func (d *raftLogDecoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.err = fmt.Errorf("missing %s", field)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

// bytes returns a view into the input; the caller copies it.
func (d *raftLogDecoder) bytes(field string) []byte {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.err = fmt.Errorf("%s length %d exceeds %d remaining bytes", field, n, len(d.buf))
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}
