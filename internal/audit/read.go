package audit

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Tail returns the last n entries, oldest first. It only reads, so it works on a file opened
// read-only. On the file of a running log with a journal it first has the log fold the journal,
// so every acknowledged entry shows; never call it inside a write transaction on that file.
func Tail(db *bbolt.DB, n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := settle(db); err != nil {
		return nil, fmt.Errorf("audit tail: %w", err)
	}
	var out []Entry
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit tail: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Since returns up to limit entries with a sequence number above afterSeq, oldest first, so a
// reader can page through the log; limit <= 0 means no limit. Like Tail, it sees the journal of a
// running log.
func Since(db *bbolt.DB, afterSeq uint64, limit int) ([]Entry, error) {
	if err := settle(db); err != nil {
		return nil, fmt.Errorf("audit since %d: %w", afterSeq, err)
	}
	var out []Entry
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			if len(k) == 8 && binary.BigEndian.Uint64(k) <= afterSeq {
				continue
			}
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit since %d: %w", afterSeq, err)
	}
	return out, nil
}
