package notify

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The General Secretariat's inbox is one, replicated among the central nodes: each hit, decision
// and trace request stored for the GS is an entry of the inbox raft group, and every central node
// applies each committed entry into this store (ApplyInbox), idempotently: a hit is stored once
// and keeps the GS receipt of the first entry that stored it; the first decision on a hit is the
// one in force on every central node, whatever arrives later; a trace's copies merge. The entries
// are the node's business to order; this file only applies them, deterministically (no clock), so
// that every central node gives the same answer to the same entry.

var (
	bucketInboxMeta      = []byte("inbox_meta")      // keyInboxApplied -> u64 big-endian
	bucketInboxIDs       = []byte("inbox_ids")       // "h/" + hit id, "t/" + trace id: held by the inbox
	bucketInboxDecisions = []byte("inbox_decisions") // hit id -> the Decision in force (the first committed)
	keyInboxApplied      = []byte("applied_index")
)

// InboxFormat is the version of InboxItem this release writes and reads.
const InboxFormat = 1

// Kinds of inbox items.
const (
	InboxHit      = "hit"
	InboxDecision = "decision"
	InboxTrace    = "trace"
)

// InboxItem is one entry of the GS inbox's log.
type InboxItem struct {
	V        int       `json:"v"`
	Kind     string    `json:"kind"`
	Hit      *Hit      `json:"hit,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
	Trace    *Trace    `json:"trace,omitempty"`
	// Anchor is a member's signed audit head (kind anchor). Releases before anchors refuse the
	// item as malformed, so it is proposed only once every central node keeps anchors.
	Anchor *Anchor `json:"anchor,omitempty"`
	// At is when the entry was ordered: the GS receipt of a hit or trace it stores first.
	At time.Time `json:"at"`
}

// InboxOutcome is what applying one item did.
type InboxOutcome struct {
	// StoredAt is when the GS first stored the hit or trace (its receipt time).
	StoredAt time.Time
	// Winner is the decision in force on the hit: the first one committed.
	Winner *Decision
	// Refused says why the item was not applied (malformed); empty when it was.
	Refused string
}

func inboxBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketInboxMeta, bucketInboxIDs, bucketInboxDecisions, bucketTraces, bucketAnchors, bucketAnchorCount} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// InboxApplied is the last inbox log index applied to this store.
func (s *Store) InboxApplied() uint64 {
	var i uint64
	_ = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketInboxMeta); b != nil {
			if v := b.Get(keyInboxApplied); len(v) == 8 {
				i = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	return i
}

func setInboxApplied(tx *bolt.Tx, index uint64) error {
	b := tx.Bucket(bucketInboxMeta)
	if v := b.Get(keyInboxApplied); len(v) == 8 && binary.BigEndian.Uint64(v) >= index {
		return nil
	}
	return b.Put(keyInboxApplied, binary.BigEndian.AppendUint64(nil, index))
}

// ApplyInbox applies committed inbox entries (each an InboxItem in JSON) in one transaction that
// also records last as applied, then tells subscribers of the hits that changed.
func (s *Store) ApplyInbox(entries [][]byte, last uint64) ([]InboxOutcome, error) {
	out := make([]InboxOutcome, len(entries))
	var changed []Hit
	err := s.db.Update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		if err := inboxBuckets(tx); err != nil {
			return err
		}
		for i, data := range entries {
			var it InboxItem
			if err := json.Unmarshal(data, &it); err != nil {
				out[i] = InboxOutcome{Refused: fmt.Sprintf("entry does not decode: %v", err)}
				continue
			}
			o, h, err := applyInboxItem(tx, &it)
			if err != nil {
				return err
			}
			out[i] = o
			if h != nil {
				changed = append(changed, *h)
			}
		}
		return setInboxApplied(tx, last)
	})
	if err != nil {
		return nil, fmt.Errorf("apply inbox entries: %w", err)
	}
	s.Published(changed...)
	return out, nil
}

// applyInboxItem applies one item; it returns the hit it changed, if any. An error is the
// store's (the transaction fails); a malformed item is an outcome.
func applyInboxItem(tx *bolt.Tx, it *InboxItem) (InboxOutcome, *Hit, error) {
	if it.V != InboxFormat {
		return InboxOutcome{Refused: fmt.Sprintf("inbox item format %d, this release reads %d", it.V, InboxFormat)}, nil, nil
	}
	switch {
	case it.Kind == InboxHit && it.Hit != nil:
		if err := it.Hit.Validate(); err != nil {
			return InboxOutcome{Refused: err.Error()}, nil, nil
		}
		return inboxHit(tx, *it.Hit, it.At)
	case it.Kind == InboxDecision && it.Decision != nil:
		if err := it.Decision.Validate(); err != nil {
			return InboxOutcome{Refused: err.Error()}, nil, nil
		}
		return inboxDecision(tx, *it.Decision)
	case it.Kind == InboxTrace && it.Trace != nil:
		t := it.Trace
		if t.ID == "" || len(t.ID) > maxField || t.Origin == "" {
			return InboxOutcome{Refused: "a trace needs an id and an origin"}, nil, nil
		}
		at, err := receiveTraceTx(tx, *t, RoleGS, it.At)
		if err != nil {
			return InboxOutcome{}, nil, err
		}
		return InboxOutcome{StoredAt: at}, nil, tx.Bucket(bucketInboxIDs).Put([]byte("t/"+t.ID), nil)
	case it.Kind == InboxAnchor && it.Anchor != nil:
		if err := it.Anchor.Validate(); err != nil {
			return InboxOutcome{Refused: err.Error()}, nil, nil
		}
		o, err := inboxAnchor(tx, *it.Anchor)
		return o, nil, err
	}
	return InboxOutcome{Refused: fmt.Sprintf("inbox item of kind %q without its content", it.Kind)}, nil, nil
}

// inboxHit stores a GS hit once: a copy already here (this node is its origin, or stored it
// before the inbox existed) keeps its fields and gets the GS receipt it lacks; a new copy starts
// as Receive starts one. The decision in force, if one was committed first, is laid over it.
func inboxHit(tx *bolt.Tx, h Hit, at time.Time) (InboxOutcome, *Hit, error) {
	b := tx.Bucket(bucketHits)
	if v := b.Get([]byte(h.ID)); v != nil {
		var old Hit
		if err := decode(tx, bucketHits, []byte(h.ID), v, &old); err != nil {
			return InboxOutcome{}, nil, err
		}
		h = old
	} else {
		h.Decision, h.DecidedBy, h.DecidedVia, h.DecidedAt, h.Comment = Pending, "", "", time.Time{}, ""
		h.Receipts = map[string]string{RoleGS: "", RoleNCB: "", RoleOrigin: h.SearchedAt.UTC().Format(time.RFC3339Nano)}
	}
	if h.Receipts == nil {
		h.Receipts = map[string]string{}
	}
	if h.Receipts[RoleGS] == "" {
		h.Receipts[RoleGS] = at.UTC().Format(time.RFC3339Nano)
	}
	stored, _ := time.Parse(time.RFC3339Nano, h.Receipts[RoleGS])
	o := InboxOutcome{StoredAt: stored}
	if v := tx.Bucket(bucketInboxDecisions).Get([]byte(h.ID)); v != nil {
		var d Decision
		if err := decode(tx, bucketInboxDecisions, []byte(h.ID), v, &d); err != nil {
			return InboxOutcome{}, nil, err
		}
		applyDecision(&h, d)
		o.Winner = &d
	}
	if err := tx.Bucket(bucketInboxIDs).Put([]byte("h/"+h.ID), nil); err != nil {
		return InboxOutcome{}, nil, err
	}
	if err := putHit(b, &h); err != nil {
		return InboxOutcome{}, nil, err
	}
	return o, &h, nil
}

// inboxDecision records the first decision committed on a hit and answers the one in force; a
// later one changes nothing. The hit, when held, shows the decision in force.
func inboxDecision(tx *bolt.Tx, d Decision) (InboxOutcome, *Hit, error) {
	decisions := tx.Bucket(bucketInboxDecisions)
	if v := decisions.Get([]byte(d.HitID)); v != nil {
		if err := decode(tx, bucketInboxDecisions, []byte(d.HitID), v, &d); err != nil {
			return InboxOutcome{}, nil, err
		}
	} else {
		if err := put(decisions, bucketInboxDecisions, []byte(d.HitID), d); err != nil {
			return InboxOutcome{}, nil, err
		}
	}
	o := InboxOutcome{Winner: &d}
	b := tx.Bucket(bucketHits)
	v := b.Get([]byte(d.HitID))
	if v == nil {
		return o, nil, nil
	}
	var h Hit
	if err := decode(tx, bucketHits, []byte(d.HitID), v, &h); err != nil {
		return InboxOutcome{}, nil, err
	}
	if h.Decision == d.Decision && h.DecidedVia == d.DecidedVia && h.DecidedAt.Equal(d.DecidedAt) {
		return o, nil, nil
	}
	applyDecision(&h, d)
	if err := putHit(b, &h); err != nil {
		return InboxOutcome{}, nil, err
	}
	return o, &h, nil
}

// InboxDecision is the decision in force on a hit in the GS inbox held here, if one was committed.
func (s *Store) InboxDecision(hitID string) (Decision, bool) {
	var d Decision
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInboxDecisions)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(hitID)); v != nil {
			ok = decode(tx, bucketInboxDecisions, []byte(hitID), v, &d) == nil
		}
		return nil
	})
	return d, ok
}

var keyInboxMigrated = []byte("migrated")

// InboxMigrated reports whether this store's GS hits from before the inbox were all found in it
// once (SetInboxMigrated): a central node of this release stores GS items only through the inbox,
// so none can be missing after that.
func (s *Store) InboxMigrated() bool {
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketInboxMeta).Get(keyInboxMigrated) != nil
		return nil
	})
	return ok
}

// SetInboxMigrated records that nothing of this store is missing from the inbox.
func (s *Store) SetInboxMigrated() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInboxMeta).Put(keyInboxMigrated, []byte{1})
	})
}
