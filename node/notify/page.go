package notify

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Pages of hits, newest first. The hits_by_time bucket orders the hits by when they were searched
// (then by id); a page is read by walking it backwards from the cursor, so a page costs what it
// holds (and what the filter skips), however large the inbox, and stays stable while new hits
// arrive: they sort after every cursor already handed out.
//
// The indexes are rebuilt at Open when the time index does not hold one key per hit: a data dir written by a
// release without it, or written again by one after a newer release had built it.

// ErrBadCursor is returned for a cursor this store did not hand out.
var ErrBadCursor = errors.New("not a cursor of this list")

// Page is one page of a list of hits; Cursor, empty on the last page, asks for the next.
type Page struct {
	Hits   []Hit
	Cursor string
}

func timeKey(h *Hit) []byte {
	k := make([]byte, 8, 8+len(h.ID))
	binary.BigEndian.PutUint64(k, uint64(h.SearchedAt.UnixNano()))
	return append(k, h.ID...)
}

// indexHit files h in the indexes: by time always; in the outbox while a recipient has not stored
// it; among the pending while it awaits a decision. The keys of what no longer holds are removed
// (a hit's searched-at time and deadline never change once stored).
func indexHit(tx *bolt.Tx, h *Hit) error {
	if err := tx.Bucket(bucketHitsByTime).Put(timeKey(h), nil); err != nil {
		return err
	}
	ok := append([]byte(h.Origin+"\x00"), h.ID...)
	var err error
	if h.Delivered() {
		err = tx.Bucket(bucketOutbox).Delete(ok)
	} else {
		err = tx.Bucket(bucketOutbox).Put(ok, nil)
	}
	if err != nil {
		return err
	}
	pk := make([]byte, 8, 8+len(h.ID))
	binary.BigEndian.PutUint64(pk, uint64(h.Deadline.UnixNano()))
	pk = append(pk, h.ID...)
	if h.Decision == Pending && !h.Deadline.IsZero() {
		return tx.Bucket(bucketPending).Put(pk, nil)
	}
	return tx.Bucket(bucketPending).Delete(pk)
}

// indexes makes the indexes match the stored hits: built when missing, and built again when the
// time index does not hold one key per hit (hits were stored by a release that did not index them).
func indexes(tx *bolt.Tx) error {
	hits := tx.Bucket(bucketHits)
	idx := tx.Bucket(bucketHitsByTime)
	if idx != nil && tx.Bucket(bucketOutbox) != nil && tx.Bucket(bucketPending) != nil && idx.Stats().KeyN == hits.Stats().KeyN {
		return nil
	}
	for _, name := range [][]byte{bucketHitsByTime, bucketOutbox, bucketPending} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return hits.ForEach(func(k, v []byte) error {
		var h Hit
		if err := decode(tx, bucketHits, k, v, &h); err != nil {
			return fmt.Errorf("index hits: %w", err)
		}
		return indexHit(tx, &h)
	})
}

// ListPage lists up to limit hits searched at or after since that pass keep, newest first, from
// after cursor ("" for the first page).
func (s *Store) ListPage(keep func(*Hit) bool, since time.Time, cursor string, limit int) (Page, error) {
	var floor uint64
	if !since.IsZero() && since.UnixNano() > 0 {
		floor = uint64(since.UnixNano())
	}
	var from []byte
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) < 9 {
			return Page{}, ErrBadCursor
		}
		from = b
	}
	var page Page
	err := s.db.View(func(tx *bolt.Tx) error {
		hits := tx.Bucket(bucketHits)
		c := tx.Bucket(bucketHitsByTime).Cursor()
		var k []byte
		if from == nil {
			k, _ = c.Last()
		} else if k, _ = c.Seek(from); k == nil {
			k, _ = c.Last()
		}
		for ; k != nil; k, _ = c.Prev() {
			if from != nil && bytes.Compare(k, from) >= 0 {
				continue
			}
			if binary.BigEndian.Uint64(k[:8]) < floor {
				return nil // everything further back is older still
			}
			if len(page.Hits) == limit {
				// More remain: the cursor is the last key handed out.
				last := page.Hits[len(page.Hits)-1]
				page.Cursor = encodeCursor(timeKey(&last))
				return nil
			}
			v := hits.Get(k[8:])
			if v == nil {
				continue
			}
			var h Hit
			if err := decode(tx, bucketHits, k[8:], v, &h); err != nil {
				return err
			}
			if keep(&h) {
				page.Hits = append(page.Hits, h)
			}
		}
		return nil
	})
	return page, err
}

func encodeCursor(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }
