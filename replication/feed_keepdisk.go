package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/seal"
)

// The batches a fed holder keeps to serve the holders fed from it (feed_keep.go) are written to its
// state file too, in the transaction that applies them, and read back when it opens: after a
// restart it goes on serving entries rather than a copy of its whole state to everyone behind it.
// In an encrypted data dir they are sealed like the records (they carry records).

// bucketFeedKept holds the kept batches: key the batch's checkpoint index (8 bytes, big endian),
// value the index the batch follows (uvarint) and the batch as the feed carries it.
var bucketFeedKept = []byte("feed_kept")

func keptKey(index uint64) []byte { return binary.BigEndian.AppendUint64(nil, index) }

func keptAD(k []byte) []byte { return seal.AD(bucketFeedKept, k) }

// storeKept writes b in tx and deletes the batches at or before drop: those the memory no longer
// keeps (so the file holds at most one batch more than the bound).
func storeKept(tx *bolt.Tx, key *seal.Key, b *keptBatch, drop uint64) error {
	bk, err := tx.CreateBucketIfNotExists(bucketFeedKept)
	if err != nil {
		return fmt.Errorf("kept batches: %w", err)
	}
	var old [][]byte
	c := bk.Cursor()
	for k, _ := c.First(); k != nil && len(k) == 8 && binary.BigEndian.Uint64(k) <= drop; k, _ = c.Next() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := bk.Delete(k); err != nil {
			return fmt.Errorf("kept batches: %w", err)
		}
	}
	k := keptKey(b.cp.Index)
	v := appendFeedEntries(binary.AppendUvarint(nil, b.after), &b.cp, b.entries)
	if key != nil {
		v = key.Seal(nil, keptAD(k), v)
	}
	if err := bk.Put(k, v); err != nil {
		return fmt.Errorf("kept batches: %w", err)
	}
	return nil
}

// loadKept reads the kept batches back: the longest run of them that follow one another and end
// at the state's applied index (anything else is of no use to serve and is left to be deleted).
func (s *State) loadKept() ([]keptBatch, error) {
	applied := s.Stats().AppliedIndex
	var out []keptBatch
	s.mu.RLock()
	defer s.mu.RUnlock()
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketFeedKept)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			b, err := decodeKept(s.key, k, v)
			if err != nil {
				return err
			}
			if len(out) > 0 && out[len(out)-1].cp.Index != b.after {
				out = out[:0] // a gap: what came before it cannot be served with what follows
			}
			out = append(out, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read kept batches: %w", err)
	}
	if len(out) == 0 || out[len(out)-1].cp.Index != applied {
		return nil, nil
	}
	return out, nil
}

func decodeKept(key *seal.Key, k, v []byte) (keptBatch, error) {
	if len(k) != 8 {
		return keptBatch{}, fmt.Errorf("kept batch key %x", k)
	}
	if key != nil {
		p, err := key.Open(nil, keptAD(k), v)
		if err != nil {
			return keptBatch{}, fmt.Errorf("kept batch %d: %w", binary.BigEndian.Uint64(k), err)
		}
		v = p
	} else {
		v = bytes.Clone(v) // bbolt's memory is valid only in the transaction
	}
	after, n := binary.Uvarint(v)
	if n <= 0 {
		return keptBatch{}, fmt.Errorf("kept batch %d: bad start", binary.BigEndian.Uint64(k))
	}
	cp, entries, err := readFeedEntries(bufio.NewReader(bytes.NewReader(v[n:])), after, true)
	if err != nil {
		return keptBatch{}, fmt.Errorf("kept batch %d: %w", binary.BigEndian.Uint64(k), err)
	}
	if cp.Index != binary.BigEndian.Uint64(k) {
		return keptBatch{}, errors.New("kept batch stored under another index")
	}
	return keptBatch{after: after, cp: cp, entries: entries}, nil
}
