package audit

import (
	"fmt"
	"math"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
)

// Tail returns the last n entries, oldest first. With a journal it first has the writer fold it,
// so every acknowledged entry shows; never call it inside a write transaction on the log's file
// (the fold needs the lock).
func (l *Log) Tail(n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := l.settle(); err != nil {
		return nil, fmt.Errorf("audit tail: %w", err)
	}
	out, err := scan(l.db, l.key, n, (*bbolt.Cursor).Last, (*bbolt.Cursor).Prev)
	if err != nil {
		return nil, fmt.Errorf("audit tail: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Since returns up to limit entries with a sequence number above afterSeq, oldest first, so a
// reader can page through the log; limit <= 0 means no limit. Like Tail, it sees the journal.
func (l *Log) Since(afterSeq uint64, limit int) ([]Entry, error) {
	if err := l.settle(); err != nil {
		return nil, fmt.Errorf("audit since %d: %w", afterSeq, err)
	}
	if afterSeq == math.MaxUint64 {
		return nil, nil // no sequence number follows; afterSeq+1 would wrap to the first entry
	}
	from := func(c *bbolt.Cursor) ([]byte, []byte) { return c.Seek(seqKey(afterSeq + 1)) }
	out, err := scan(l.db, l.key, limit, from, (*bbolt.Cursor).Next)
	if err != nil {
		return nil, fmt.Errorf("audit since %d: %w", afterSeq, err)
	}
	return out, nil
}

// Before returns up to limit entries with a sequence number below beforeSeq, newest first (all of
// the log's newest with beforeSeq 0), so a reader pages back through the log. Like Tail, it sees
// the journal.
func (l *Log) Before(beforeSeq uint64, limit int) ([]Entry, error) {
	if err := l.settle(); err != nil {
		return nil, fmt.Errorf("audit before %d: %w", beforeSeq, err)
	}
	from := (*bbolt.Cursor).Last
	if beforeSeq > 0 {
		from = func(c *bbolt.Cursor) ([]byte, []byte) {
			if k, _ := c.Seek(seqKey(beforeSeq)); k == nil {
				return c.Last()
			}
			return c.Prev()
		}
	}
	out, err := scan(l.db, l.key, limit, from, (*bbolt.Cursor).Prev)
	if err != nil {
		return nil, fmt.Errorf("audit before %d: %w", beforeSeq, err)
	}
	return out, nil
}

// settle folds the journal, if any, so that node.db holds every acknowledged entry.
func (l *Log) settle() error {
	if l.j == nil {
		return nil // every acknowledged entry is in node.db already
	}
	return l.flush()
}

// scan decodes up to limit entries (all when limit <= 0) of bucket "audit", from the cursor
// position first gives, moving with step.
func scan(db *bbolt.DB, key *atrest.Key, limit int, first, step func(*bbolt.Cursor) ([]byte, []byte)) ([]Entry, error) {
	var out []Entry
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := first(c); k != nil && (limit <= 0 || len(out) < limit); k, v = step(c) {
			v, err := openValue(key, k, v)
			if err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
