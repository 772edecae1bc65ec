package notify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A snapshot of the GS inbox is its items as JSON lines: every hit it holds (with its GS receipt
// as the item's time), every decision in force, every trace. It is read in transactions of
// snapshotChunk items, so a snapshot of a million hits never holds one read transaction open for
// long (node.db also takes the audit log and every search's hit; a long read would stall its
// growth). Items applied while it is written may be in it too: restoring merges each item as
// applying it would, so a snapshot with more than its index says is the same state after the
// entries that follow are applied again.

const snapshotChunk = 2000

// InboxSnapshot writes the inbox held here.
type InboxSnapshot struct{ s *Store }

// SnapshotInbox returns a writer of the inbox held here.
func (s *Store) SnapshotInbox() InboxSnapshot { return InboxSnapshot{s: s} }

// Release does nothing: the snapshot holds no transaction between chunks.
func (InboxSnapshot) Release() {}

// WriteTo writes the items as JSON lines.
func (p InboxSnapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	enc := json.NewEncoder(cw)
	var from []byte
	for {
		var items []InboxItem
		var err error
		items, from, err = p.s.inboxChunk(from)
		if err != nil {
			return cw.n, err
		}
		for i := range items {
			if err := enc.Encode(&items[i]); err != nil {
				return cw.n, err
			}
		}
		if from == nil {
			return cw.n, nil
		}
	}
}

// inboxChunk reads up to snapshotChunk items of the inbox from key from (nil: the start), and
// returns the key of the first item not read, nil at the end. The walk goes through the ids ("h/"
// hits, "t/" traces), then the decisions and the anchors, whose resume keys are marked with
// decPrefix and ancPrefix.
func (s *Store) inboxChunk(from []byte) ([]InboxItem, []byte, error) {
	const decPrefix, ancPrefix = "\xffd/", "\xffe/" // both sort after every inbox id
	var items []InboxItem
	var next []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if !bytes.HasPrefix(from, []byte(decPrefix)) && !bytes.HasPrefix(from, []byte(ancPrefix)) {
			c := tx.Bucket(bucketInboxIDs).Cursor()
			k, _ := c.First()
			if from != nil {
				k, _ = c.Seek(from)
			}
			for ; k != nil; k, _ = c.Next() {
				if len(items) == snapshotChunk {
					next = append([]byte(nil), k...)
					return nil
				}
				it, ok, err := inboxItemOf(tx, k)
				if err != nil {
					return err
				}
				if ok {
					items = append(items, it)
				}
			}
			from = []byte(decPrefix)
		}
		if !bytes.HasPrefix(from, []byte(ancPrefix)) {
			c := tx.Bucket(bucketInboxDecisions).Cursor()
			for k, v := c.Seek(from[len(decPrefix):]); k != nil; k, v = c.Next() {
				if len(items) == snapshotChunk {
					next = append([]byte(decPrefix), k...)
					return nil
				}
				var d Decision
				if err := decode(tx, bucketInboxDecisions, k, v, &d); err != nil {
					return fmt.Errorf("inbox decision %s: %w", k, err)
				}
				items = append(items, InboxItem{V: InboxFormat, Kind: InboxDecision, Decision: &d})
			}
			from = []byte(ancPrefix)
		}
		b := tx.Bucket(bucketAnchors)
		if b == nil {
			return nil // written by a release before anchors, and not applied since
		}
		c := b.Cursor()
		for k, v := c.Seek(from[len(ancPrefix):]); k != nil; k, v = c.Next() {
			if len(items) == snapshotChunk {
				next = append([]byte(ancPrefix), k...)
				return nil
			}
			var a Anchor
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("inbox anchor %x: %w", k, err)
			}
			items = append(items, InboxItem{V: InboxFormat, Kind: InboxAnchor, Anchor: &a})
		}
		return nil
	})
	return items, next, err
}

// inboxItemOf is the snapshot item of an inbox id: the hit or trace as held, at its GS receipt.
func inboxItemOf(tx *bolt.Tx, k []byte) (InboxItem, bool, error) {
	switch {
	case bytes.HasPrefix(k, []byte("h/")):
		v := tx.Bucket(bucketHits).Get(k[2:])
		if v == nil {
			return InboxItem{}, false, nil
		}
		var h Hit
		if err := decode(tx, bucketHits, k[2:], v, &h); err != nil {
			return InboxItem{}, false, fmt.Errorf("inbox hit %s: %w", k[2:], err)
		}
		at, _ := time.Parse(time.RFC3339Nano, h.Receipts[RoleGS])
		return InboxItem{V: InboxFormat, Kind: InboxHit, Hit: &h, At: at}, true, nil
	case bytes.HasPrefix(k, []byte("t/")):
		v := tx.Bucket(bucketTraces).Get(k[2:])
		if v == nil {
			return InboxItem{}, false, nil
		}
		var t Trace
		if err := decode(tx, bucketTraces, k[2:], v, &t); err != nil {
			return InboxItem{}, false, fmt.Errorf("inbox trace %s: %w", k[2:], err)
		}
		at, _ := time.Parse(time.RFC3339Nano, t.Receipts[RoleGS])
		return InboxItem{V: InboxFormat, Kind: InboxTrace, Trace: &t, At: at}, true, nil
	}
	return InboxItem{}, false, nil
}

// RestoreInbox merges a snapshot's items into the store, snapshotChunk per transaction, and
// records index as applied once every item is in.
func (s *Store) RestoreInbox(index uint64, r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	for done := false; !done; {
		var batch [][]byte
		for len(batch) < snapshotChunk {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				done = true
				break
			} else if err != nil {
				return fmt.Errorf("inbox snapshot item: %w", err)
			}
			batch = append(batch, raw)
		}
		// The index is recorded with the last batch only: a crash in between restarts the
		// restore, and merging again is harmless.
		last := uint64(0)
		if done {
			last = index
		}
		if _, err := s.ApplyInbox(batch, last); err != nil {
			return err
		}
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// InboxMissing lists what this store holds for the GS that the replicated inbox lacks: hits with
// a GS receipt (stored here by a release before the inbox, or made here by a central origin) not
// in the inbox, and decisions on them it has none of, walking the hits by id from from (""
// first) up to limit items; next is where to go on, "" at the end. Each hit keeps its GS receipt
// as its item's time, so the inbox keeps the time it was first stored.
func (s *Store) InboxMissing(from string, limit int) (items []InboxItem, next string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ids, decisions := tx.Bucket(bucketInboxIDs), tx.Bucket(bucketInboxDecisions)
		c := tx.Bucket(bucketHits).Cursor()
		for k, v := c.Seek([]byte(from)); k != nil; k, v = c.Next() {
			if len(items) >= limit {
				next = string(k)
				return nil
			}
			var h Hit
			if err := decode(tx, bucketHits, k, v, &h); err != nil {
				return fmt.Errorf("hit %s: %w", k, err)
			}
			if h.Receipts[RoleGS] == "" {
				continue
			}
			if ids.Get(append([]byte("h/"), k...)) == nil {
				at, _ := time.Parse(time.RFC3339Nano, h.Receipts[RoleGS])
				items = append(items, InboxItem{V: InboxFormat, Kind: InboxHit, Hit: &h, At: at})
			}
			if h.Decision != Pending && h.Decision != "" && decisions.Get(k) == nil {
				d := Decision{HitID: h.ID, Decision: h.Decision, Comment: h.Comment, DecidedBy: h.DecidedBy, DecidedVia: h.DecidedVia, DecidedAt: h.DecidedAt}
				items = append(items, InboxItem{V: InboxFormat, Kind: InboxDecision, Decision: &d})
			}
		}
		// Traces are few (manual inquiries): listed whole with the last page.
		return tx.Bucket(bucketTraces).ForEach(func(k, v []byte) error {
			var t Trace
			if err := decode(tx, bucketTraces, k, v, &t); err != nil {
				return fmt.Errorf("trace %s: %w", k, err)
			}
			if t.Receipts[RoleGS] != "" && ids.Get(append([]byte("t/"), k...)) == nil {
				at, _ := time.Parse(time.RFC3339Nano, t.Receipts[RoleGS])
				items = append(items, InboxItem{V: InboxFormat, Kind: InboxTrace, Trace: &t, At: at})
			}
			return nil
		})
	})
	return items, next, err
}
