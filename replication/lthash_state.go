package replication

import (
	"encoding/binary"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// keyStateHash holds the StateHash in the state's meta bucket: a format byte (1), the applied
// index the hash is of (8 bytes, big-endian), then the lanes. A release before the hash ignores
// the key and applies entries without updating it; the index then no longer matches applied_index
// and the hash is computed again from the records when this release opens the file.
var keyStateHash = []byte("state_hash")

const stateHashFormat = 1

// hashRingSize is how many recent (index, hash) pairs a state keeps, for a central voter to sign a
// checkpoint at a recent index (feed_checkpoint.go). One pair per applied transaction: 2 KiB each.
const hashRingSize = 128

// hashAt is the state hash after the entries up to index were applied.
type hashAt struct {
	index uint64
	hash  StateHash
}

// stateHash is the state's StateHash as of its applied index, and the last hashRingSize of them.
// Written only by the apply path and restore; read by checkpoint signing.
type stateHash struct {
	mu   sync.Mutex // guards the fields below
	cur  hashAt
	ring [hashRingSize]hashAt
	n    int // pairs in ring, up to hashRingSize
	next int // where the next pair goes
}

func (s *stateHash) current() StateHash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.hash
}

// set records the hash after applying up to index and keeps it in the ring (once per index: a
// batch of replayed entries changes nothing).
func (s *stateHash) set(index uint64, h *StateHash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 && s.cur.index == index {
		return
	}
	s.cur = hashAt{index: index, hash: *h}
	s.ring[s.next] = s.cur
	s.next = (s.next + 1) % hashRingSize
	s.n = min(s.n+1, hashRingSize)
}

// reset forgets the ring (the state was replaced) and starts it again at index.
func (s *stateHash) reset(index uint64, h *StateHash) {
	s.mu.Lock()
	s.n, s.next = 0, 0
	s.mu.Unlock()
	s.set(index, h)
}

// pick returns a kept (index, hash) with after < index <= limit, the highest at or below want
// when there is one, else the lowest above it.
func (s *stateHash) pick(after, want, limit uint64) (hashAt, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var below, above hashAt
	for i := range s.n {
		p := s.ring[i]
		if p.index <= after || p.index > limit {
			continue
		}
		if p.index <= want && p.index > below.index {
			below = p
		}
		if p.index > want && (above.index == 0 || p.index < above.index) {
			above = p
		}
	}
	if below.index != 0 {
		return below, true
	}
	return above, above.index != 0
}

func writeStateHash(b *bolt.Bucket, index uint64, h *StateHash) error {
	v := make([]byte, 0, 9+StateHashSize)
	v = append(v, stateHashFormat)
	v = binary.BigEndian.AppendUint64(v, index)
	return b.Put(keyStateHash, h.AppendBinary(v))
}

// readStateHash reads the stored hash when it is of the applied index.
func readStateHash(b *bolt.Bucket, applied uint64) (StateHash, bool) {
	var h StateHash
	v := b.Get(keyStateHash)
	if len(v) != 9+StateHashSize || v[0] != stateHashFormat || binary.BigEndian.Uint64(v[1:9]) != applied {
		return h, false
	}
	return h, h.setBinary(v[9:])
}

// loadHash reads the state hash from the file, or computes it from every record when the file has
// none for its applied index (written by a release before the hash, or applied by one since), and
// stores it. It reports whether it scanned.
func (s *State) loadHash(db *bolt.DB, applied uint64) (bool, error) {
	var h StateHash
	ok := false
	if err := db.View(func(tx *bolt.Tx) error {
		h, ok = readStateHash(tx.Bucket(bucketMeta), applied)
		return nil
	}); err != nil {
		return false, err
	}
	if ok {
		s.hash.reset(applied, &h)
		return false, nil
	}
	err := db.Update(func(tx *bolt.Tx) error {
		h = StateHash{}
		// The hash is over plain values, the same on every member whatever its data key.
		if err := (records{b: tx.Bucket(bucketRecords), key: s.key}).forEach(func(k, v []byte) error {
			h.add(k, v)
			return nil
		}); err != nil {
			return err
		}
		return writeStateHash(tx.Bucket(bucketMeta), applied, &h)
	})
	if err != nil {
		return true, fmt.Errorf("compute state hash: %w", err)
	}
	s.hash.reset(applied, &h)
	return true, nil
}

// Hash is the state hash as of the applied index.
func (s *State) Hash() StateHash { return s.hash.current() }
