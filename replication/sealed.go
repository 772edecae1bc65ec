package replication

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/seal"
)

// At rest, in an encrypted data dir, every record value and every raft log entry is sealed with
// the node's data key (internal/seal), with the bucket and key it is stored under as associated
// data; snapshot files are sealed streams. This file is the one place that seals and opens them:
// the stores call it, and everything above (the FSM, the snapshot stream on the wire, raft's
// transport) sees plain bytes. A nil key (a plain data dir) passes every value through.

// records is a state file's records bucket with the key its values are sealed with.
type records struct {
	b   *bolt.Bucket
	key *seal.Key
}

func recordAD(id []byte) []byte { return seal.AD(bucketRecords, id) }

// open returns the plain binary of the value v stored under id.
func (r records) open(id, v []byte) ([]byte, error) {
	if r.key == nil {
		return v, nil
	}
	p, err := r.key.Open(nil, recordAD(id), v)
	if err != nil {
		return nil, fmt.Errorf("stored record %q: %w", id, err)
	}
	return p, nil
}

// get returns the plain binary of the record under id, or nil when there is none. Use it only
// inside the transaction: in a plain dir it is bbolt's own memory.
func (r records) get(id []byte) ([]byte, error) {
	v := r.b.Get(id)
	if v == nil {
		return nil, nil
	}
	return r.open(id, v)
}

// lookup reads many records of r, one after another, with one cursor and reused buffers.
type lookup struct {
	r          records
	c          *bolt.Cursor
	key, ad, v []byte
}

func (r records) lookup() *lookup { return &lookup{r: r, c: r.b.Cursor()} }

// get is records.get for id; what it returns is valid until the next call (and, in a plain dir,
// only inside the transaction).
func (l *lookup) get(id string) ([]byte, error) {
	l.key = append(l.key[:0], id...)
	k, v := l.c.Seek(l.key)
	if v == nil || !bytes.Equal(k, l.key) {
		return nil, nil
	}
	if l.r.key == nil {
		return v, nil
	}
	l.ad = appendRecordAD(l.ad[:0], l.key)
	p, err := l.r.key.Open(l.v[:0], l.ad, v)
	if err != nil {
		return nil, fmt.Errorf("stored record %q: %w", id, err)
	}
	l.v = p
	return p, nil
}

// appendRecordAD appends recordAD(id) to dst.
func appendRecordAD(dst, id []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(bucketRecords)))
	dst = append(dst, bucketRecords...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(id)))
	return append(dst, id...)
}

// put stores plain under id; bbolt keeps the value until commit, so it is sealed into (or copied
// to) the transaction's arena.
func (r records) put(id, plain []byte, mem *arena) error {
	if r.key == nil {
		return r.b.Put(id, mem.copy(plain))
	}
	return r.b.Put(id, r.key.Seal(nil, recordAD(id), plain))
}

// forEach calls fn with every record's id and plain binary, in id order.
func (r records) forEach(fn func(id, plain []byte) error) error {
	var buf []byte
	return r.b.ForEach(func(k, v []byte) error {
		if r.key == nil {
			return fn(k, v)
		}
		p, err := r.key.Open(buf[:0], recordAD(k), v)
		if err != nil {
			return fmt.Errorf("stored record %q: %w", k, err)
		}
		buf = p
		return fn(k, p)
	})
}

func (s *State) records(tx *bolt.Tx) records {
	return records{b: tx.Bucket(bucketRecords), key: s.key}
}

var logAD = []byte("raft log")

func logEntryAD(key []byte) []byte { return seal.AD(logAD, key) }

// sealedSnapshots is raft's file snapshot store with the snapshot files sealed: raft reads
// (to send a snapshot to a follower, or to restore) and writes (one taken here, or one received)
// plain streams, the disk holds sealed ones.
type sealedSnapshots struct {
	*raft.FileSnapshotStore
	key *seal.Key
}

var snapshotAD = []byte("raft snapshot")

func snapshotFileAD(id string) []byte { return seal.AD(snapshotAD, []byte(id)) }

func (s sealedSnapshots) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return &sealedSink{SnapshotSink: sink, w: s.key.NewWriter(sink, snapshotFileAD(sink.ID()))}, nil
}

func (s sealedSnapshots) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.FileSnapshotStore.Open(id)
	if err != nil {
		return nil, nil, err
	}
	// The plain size is what raft announces to a follower, which reads exactly that many bytes.
	plain := *meta
	plain.Size = plainSize(meta.Size)
	return &plain, struct {
		io.Reader
		io.Closer
	}{s.key.NewReader(rc, snapshotFileAD(id)), rc}, nil
}

// plainSize is the size of the plain stream whose sealed form is sealed bytes long.
func plainSize(sealed int64) int64 {
	n := sealed - int64(len("fedseal1"))
	chunk := int64(4 + seal.ChunkSize + seal.Overhead)
	full := n / chunk
	rest := n % chunk
	if rest == 0 && full > 0 { // the last chunk was exactly full
		return full * seal.ChunkSize
	}
	return full*seal.ChunkSize + max(rest-4-seal.Overhead, 0)
}

type sealedSink struct {
	raft.SnapshotSink
	w io.WriteCloser
}

func (s *sealedSink) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *sealedSink) Close() error {
	if err := s.w.Close(); err != nil {
		_ = s.SnapshotSink.Cancel()
		return fmt.Errorf("seal snapshot: %w", err)
	}
	return s.SnapshotSink.Close()
}
