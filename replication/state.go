package replication

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
)

// Item error codes returned in a Result.
const (
	CodeForbidden = "forbidden"
	CodeNotFound  = "not_found"
	CodeConflict  = "conflict"
	CodeInvalid   = "invalid_field"
)

var (
	bucketRecords = []byte("records")
	bucketMeta    = []byte("meta")
	keyApplied    = []byte("applied_index")
	keyTerm       = []byte("applied_term")
	keyDigest     = []byte("digest")
	keyCount      = []byte("count")
)

// ItemError says why one item of a command was not applied.
type ItemError struct {
	Index   int    // position in the command's Records or IDs
	ID      string // record id
	Code    string // CodeForbidden, CodeNotFound, CodeConflict, CodeInvalid
	Message string
	Field   string `json:",omitempty"` // the field a CodeInvalid refusal is about
}

// Result is what applying one command did.
type Result struct {
	Applied int
	Errors  []ItemError
	Index   uint64 // the raft index the command was committed at
}

// Change is one applied change, reported to the Observer after it is durable.
type Change struct {
	ID  string
	New *record.Record // nil for a delete
	Old *record.Record // nil for a create
}

// Digest is an order-independent hash of a shard's records: the lane-wise sum (mod 2^64) of the
// SHA-256 of each record's binary encoding. Same records, same digest, on every node, however and in
// whatever order they were applied; it can be kept current on every add, change and delete.
type Digest [4]uint64

func (d *Digest) add(h [32]byte, sign int) {
	for i := range d {
		v := binary.BigEndian.Uint64(h[i*8:])
		if sign > 0 {
			d[i] += v
		} else {
			d[i] -= v
		}
	}
}

// String is the digest in hex.
func (d Digest) String() string {
	var b [32]byte
	for i, v := range d {
		binary.BigEndian.PutUint64(b[i*8:], v)
	}
	return hex.EncodeToString(b[:])
}

// State is a shard's state file: its records by id, plus the applied index, count and digest, all
// updated in the same bbolt transaction as the records they describe.
type State struct {
	path string
	// mu guards db, which is replaced when a snapshot is restored. Readers hold it shared; the apply
	// path (a single goroutine) and restore hold it exclusively only to swap the file.
	mu sync.RWMutex
	db *bolt.DB
	// key seals the records at rest (nil: a plain data dir); set at open, never changed.
	key *seal.Key
	// noSync skips fsync on commit: only the scale run's holders, whose copies nobody restarts.
	noSync bool
	// The fields below mirror meta; written only by the apply path (one goroutine, raft's FSM loop),
	// read by Stats under the mirror's mutex.
	mirror stateMirror
	// faults makes the next writes fail (fault drills and tests).
	faults writeFaults
	// hash is the state hash as of the applied index, and recent ones (lthash_state.go).
	hash stateHash
}

// InjectWriteFaults makes the next n writes of applied entries fail with err (such as
// syscall.ENOSPC) after their changes were made and before they commit, as a full disk would. It is
// a seam for fault drills and tests; nothing else calls it.
func (s *State) InjectWriteFaults(n int, err error) { s.faults.inject(n, err) }

// OpenState opens (or creates) a state file of a plain data dir.
func OpenState(path string) (*State, error) { return OpenSealedState(path, nil) }

// OpenSealedState opens (or creates) a state file whose records are sealed with key (nil: plain).
func OpenSealedState(path string, key *seal.Key) (*State, error) {
	return openState(path, key, false)
}

func openState(path string, key *seal.Key, noSync bool) (*State, error) {
	db, err := openStateDB(path, noSync)
	if err != nil {
		return nil, err
	}
	s := &State{path: path, db: db, key: key, noSync: noSync}
	if err := db.View(func(tx *bolt.Tx) error { s.mirror.load(tx.Bucket(bucketMeta)); return nil }); err != nil {
		db.Close()
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	if _, err := s.loadHash(db, s.mirror.get().AppliedIndex); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return s, nil
}

func openStateDB(path string, noSync bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		NoSync:          noSync,
		Timeout:         2 * time.Second,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: 256 << 20,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open state %s: locked by another process (is another fedarms running on this data dir?)", path)
		}
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketRecords); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init state %s: %w", path, err)
	}
	return db, nil
}

// swap replaces the state file by a restored one and reloads the meta mirror.
func (s *State) swap(restored string, st Stats) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state for restore: %w", err)
	}
	if err := os.Rename(restored, s.path); err != nil {
		return fmt.Errorf("swap restored state: %w", err)
	}
	db, err := openStateDB(s.path, s.noSync)
	if err != nil {
		return err
	}
	s.db = db
	s.mirror.set(st)
	_, err = s.loadHash(db, st.AppliedIndex)
	return err
}

// Close closes the state file.
func (s *State) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Path is the state file's path.
func (s *State) Path() string { return s.path }

// Get returns a record by id.
func (s *State) Get(id string) (record.Record, bool, error) {
	var r record.Record
	var found bool
	s.mu.RLock()
	defer s.mu.RUnlock()
	err := s.db.View(func(tx *bolt.Tx) error {
		v, err := s.records(tx).get([]byte(id))
		if v == nil || err != nil {
			return err
		}
		found = true
		return r.UnmarshalBinary(v)
	})
	return r, found, err
}

// GetMany looks up several ids in one read transaction: those at the positions in only, or every
// one when only is nil. out[i] is set for every id found (found[i] true); ids already marked found
// are skipped, so a caller can try several shards in turn. One cursor seeks every id (bbolt's Get
// makes a cursor, and grows its stack, per key), and the key, the associated data and the opened
// value are built in buffers reused from one id to the next: a screening reads millions of
// records, and the decoded record copies what it keeps.
func (s *State) GetMany(ids []string, out []record.Record, found []bool, only []int) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(func(tx *bolt.Tx) error {
		r := s.records(tx)
		l := r.lookup()
		n := len(ids)
		if only != nil {
			n = len(only)
		}
		for k := range n {
			i := k
			if only != nil {
				i = only[k]
			}
			if found[i] {
				continue
			}
			v, err := l.get(ids[i])
			if err != nil {
				return err
			}
			if v != nil {
				if err := out[i].UnmarshalBinary(v); err != nil {
					return fmt.Errorf("record %q: %w", ids[i], err)
				}
				found[i] = true
			}
		}
		return nil
	})
}

// ForEach calls fn for every record in id order, inside one read transaction.
func (s *State) ForEach(fn func(r *record.Record) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(func(tx *bolt.Tx) error {
		var r record.Record
		return s.records(tx).forEach(func(k, v []byte) error {
			if err := r.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			return fn(&r)
		})
	})
}

// Stats is a point-in-time summary of the state.
type Stats struct {
	AppliedIndex uint64
	AppliedTerm  uint64
	Records      uint64
	Digest       Digest
}

// Stats returns the state's applied index, record count and digest.
func (s *State) Stats() Stats { return s.mirror.get() }

// applyBatch applies commands (already decoded, with their raft index and term) in one transaction.
// Entries at or below the applied index are skipped: they were applied before a restart. On an
// error nothing is written and the call can be repeated as is (every result is reset first).
func (s *State) applyBatch(entries []appliedEntry) ([]Change, error) {
	return s.applyBatchChecked(entries, nil)
}

// applyBatchChecked is applyBatch with a check of the resulting stats and state hash before the
// transaction commits, which may also write to the meta bucket: when check fails, nothing is
// written (feed_holder.go).
func (s *State) applyBatchChecked(entries []appliedEntry, check func(*bolt.Bucket, Stats, *StateHash) error) ([]Change, error) {
	var changes []Change
	st := s.mirror.get()
	h := s.hash.current()
	s.mu.RLock()
	defer s.mu.RUnlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs := s.records(tx)
		recs.b.FillPercent = 0.7
		var buf []byte
		var mem arena
		for _, e := range entries {
			*e.result = Result{}
			if e.index <= st.AppliedIndex {
				continue
			}
			if e.cmd != nil {
				var err error
				buf, changes, err = applyCommand(recs, e.cmd, e.result, &st.Digest, &h, &st.Records, buf, &mem, changes)
				if err != nil {
					return err
				}
			}
			st.AppliedIndex, st.AppliedTerm = e.index, e.term
		}
		if check != nil {
			if err := check(tx.Bucket(bucketMeta), st, &h); err != nil {
				return err
			}
		}
		if err := s.faults.take(s.path); err != nil {
			return err
		}
		if err := writeStateHash(tx.Bucket(bucketMeta), st.AppliedIndex, &h); err != nil {
			return err
		}
		return writeMeta(tx.Bucket(bucketMeta), st)
	})
	if err != nil {
		return nil, err
	}
	s.mirror.set(st)
	s.hash.set(st.AppliedIndex, &h)
	return changes, nil
}

type appliedEntry struct {
	index, term uint64
	cmd         *Command // nil for entries that carry no command (raft internals)
	result      *Result
}

func applyCommand(recs records, c *Command, res *Result, d *Digest, lt *StateHash, count *uint64, buf []byte, mem *arena, changes []Change) ([]byte, []Change, error) {
	fail := func(i int, id, code, msg string) {
		res.Errors = append(res.Errors, ItemError{Index: i, ID: id, Code: code, Message: msg})
	}
	invalid := func(i int, id string, fe *record.FieldError) {
		res.Errors = append(res.Errors, ItemError{Index: i, ID: id, Code: CodeInvalid, Message: fe.Error(), Field: fe.Field})
	}
	owns := func(country string) bool { return c.Principal.Admin || country == c.Principal.Country }
	if c.Op == OpDelete {
		for i, id := range c.IDs {
			if fe := checkID(id); fe != nil {
				invalid(i, id, fe)
				continue
			}
			old, err := recs.get([]byte(id))
			if err != nil {
				return buf, changes, err
			}
			if old == nil {
				fail(i, id, CodeNotFound, "no record with this id")
				continue
			}
			var o record.Record
			if err := o.UnmarshalBinary(old); err != nil {
				return buf, changes, fmt.Errorf("stored record %q: %w", id, err)
			}
			if !owns(o.RecordingCountry) {
				fail(i, id, CodeForbidden, fmt.Sprintf("record belongs to %s; only its NCB may delete it", o.RecordingCountry))
				continue
			}
			d.add(sha256.Sum256(old), -1)
			lt.remove([]byte(id), old)
			if err := recs.b.Delete([]byte(id)); err != nil {
				return buf, changes, err
			}
			*count--
			res.Applied++
			changes = append(changes, Change{ID: id, Old: &o})
		}
		return buf, changes, nil
	}
	for i := range c.Records {
		r := &c.Records[i]
		if fe := checkRecord(r); fe != nil {
			invalid(i, r.ID, fe)
			continue
		}
		if !owns(r.RecordingCountry) {
			fail(i, r.ID, CodeForbidden, fmt.Sprintf("recording_country %s is not %s; only that country's NCB may write it", r.RecordingCountry, c.Principal.Country))
			continue
		}
		key := []byte(r.ID)
		old, err := recs.get(key)
		if err != nil {
			return buf, changes, err
		}
		var o *record.Record
		if old != nil {
			o = new(record.Record)
			if err := o.UnmarshalBinary(old); err != nil {
				return buf, changes, fmt.Errorf("stored record %q: %w", r.ID, err)
			}
		}
		switch {
		case old != nil && c.Op == OpCreate:
			fail(i, r.ID, CodeConflict, "a record with this id exists")
			continue
		case old == nil && c.Op == OpUpdate:
			fail(i, r.ID, CodeNotFound, "no record with this id")
			continue
		case o != nil && !owns(o.RecordingCountry):
			fail(i, r.ID, CodeForbidden, fmt.Sprintf("record belongs to %s; only its NCB may change it", o.RecordingCountry))
			continue
		case o != nil && o.RecordingCountry != r.RecordingCountry:
			fail(i, r.ID, CodeInvalid, "recording_country cannot change; delete the record and create it again")
			continue
		}
		buf = r.AppendBinary(buf[:0])
		if old != nil {
			d.add(sha256.Sum256(old), -1)
			lt.remove(key, old)
		} else {
			*count++
		}
		d.add(sha256.Sum256(buf), +1)
		lt.add(key, buf)
		if err := recs.put(key, buf, mem); err != nil {
			return buf, changes, err
		}
		res.Applied++
		changes = append(changes, Change{ID: r.ID, New: r, Old: o})
	}
	return buf, changes, nil
}

func writeMeta(b *bolt.Bucket, st Stats) error {
	var d [32]byte
	for i, v := range st.Digest {
		binary.BigEndian.PutUint64(d[i*8:], v)
	}
	for _, kv := range []struct {
		k []byte
		v []byte
	}{
		{keyApplied, binary.BigEndian.AppendUint64(nil, st.AppliedIndex)},
		{keyTerm, binary.BigEndian.AppendUint64(nil, st.AppliedTerm)},
		{keyCount, binary.BigEndian.AppendUint64(nil, st.Records)},
		{keyDigest, d[:]},
	} {
		if err := b.Put(kv.k, kv.v); err != nil {
			return err
		}
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// arena hands out byte slices that stay untouched until the transaction commits: bbolt keeps
// references to the values given to Put until then, so a reused buffer would corrupt them.
type arena struct{ chunk []byte }

func (a *arena) copy(b []byte) []byte {
	if cap(a.chunk)-len(a.chunk) < len(b) {
		a.chunk = make([]byte, 0, max(len(b), 64<<10))
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return a.chunk[start:len(a.chunk):len(a.chunk)]
}
