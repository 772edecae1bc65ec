package notify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/seal"
)

var (
	bucketHits        = []byte("hits")
	bucketHitsByTime  = []byte("hits_by_time") // key: searched at (u64 big-endian unix ns) + hit id; value: empty
	bucketOutbox      = []byte("hits_outbox")  // key: origin + NUL + hit id, for hits a recipient has not stored yet
	bucketPending     = []byte("hits_pending") // key: deadline (u64 big-endian unix ns) + hit id, for hits awaiting a decision
	bucketDecisionOut = []byte("decision_out") // key: hit id + "/" + role; value: Decision
)

// Store is the node's hits, in its bbolt file.
type Store struct {
	db  *bolt.DB
	now func() time.Time

	mu   sync.Mutex // guards subs
	subs map[chan Hit]struct{}
	// queued wakes the webhook sender after a commit that may have queued events (webhook.go).
	queued chan struct{}
}

// Open creates the buckets if needed, for a plain data dir.
func Open(db *bolt.DB, now func() time.Time) (*Store, error) { return OpenSealed(db, now, nil) }

// OpenSealed is Open for a data dir whose values are sealed with key (nil: plain). The key stays
// registered for db until Forget.
func OpenSealed(db *bolt.DB, now func() time.Time, key *seal.Key) (*Store, error) {
	if key != nil {
		keys.Store(db, key)
	}
	if now == nil {
		now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHits, bucketDecisionOut, bucketFanout} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := inboxBuckets(tx); err != nil {
			return err
		}
		if err := webhookBuckets(tx); err != nil {
			return err
		}
		return indexes(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return &Store{db: db, now: now, subs: map[chan Hit]struct{}{}, queued: make(chan struct{}, 1)}, nil
}

// PutTx stores new hits inside the caller's transaction (the search's audit entry shares it, so
// both are durable before the answer leaves). Call Published after the transaction commits.
func PutTx(tx *bolt.Tx, hits []Hit) error {
	b := tx.Bucket(bucketHits)
	for _, h := range hits {
		if err := putHit(b, &h); err != nil {
			return err
		}
	}
	return nil
}

func putHit(b *bolt.Bucket, h *Hit) error {
	// Every store of a hit passes here, so the webhook's events are queued in its transaction.
	if scope := webhookScope(b.Tx()); scope != "" {
		var old *Hit
		if ov := b.Get([]byte(h.ID)); ov != nil {
			old = new(Hit)
			if err := decode(b.Tx(), bucketHits, []byte(h.ID), ov, old); err != nil {
				return fmt.Errorf("hit %s as stored: %w", h.ID, err)
			}
		}
		if err := queueWebhook(b.Tx(), scope, old, h); err != nil {
			return err
		}
	}
	if err := put(b, bucketHits, []byte(h.ID), h); err != nil {
		return fmt.Errorf("store hit %s: %w", h.ID, err)
	}
	if err := indexHit(b.Tx(), h); err != nil {
		return fmt.Errorf("index hit %s: %w", h.ID, err)
	}
	return nil
}

// Published tells subscribers about hits that are now durable.
func (s *Store) Published(hits ...Hit) {
	select {
	case s.queued <- struct{}{}:
	default: // a wake-up is pending already
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hits {
		for ch := range s.subs {
			select {
			case ch <- h:
			default: // a slow subscriber misses live updates, never blocks delivery; it can re-list
			}
		}
	}
}

// Subscribe returns a feed of hits stored or changed on this node, and a function to stop it.
func (s *Store) Subscribe() (<-chan Hit, func()) {
	ch := make(chan Hit, 64)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// update changes one stored hit in its own transaction and publishes it.
func (s *Store) update(id string, fn func(tx *bolt.Tx, h *Hit) error) (Hit, error) {
	var h Hit
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		h, err = updateTx(tx, id, fn)
		return err
	})
	if err == nil {
		s.Published(h)
	}
	return h, err
}

// updateTx reads hit id in tx, lets fn change it and stores it; on an error from fn nothing is
// written, and the hit as read is returned.
func updateTx(tx *bolt.Tx, id string, fn func(tx *bolt.Tx, h *Hit) error) (Hit, error) {
	var h Hit
	b := tx.Bucket(bucketHits)
	v := b.Get([]byte(id))
	if v == nil {
		return h, ErrNotFound
	}
	if err := decode(tx, bucketHits, []byte(id), v, &h); err != nil {
		return h, err
	}
	if err := fn(tx, &h); err != nil {
		return h, err
	}
	return h, putHit(b, &h)
}

// Receive stores a hit delivered by its origin, once: a hit already stored keeps its copy, and the
// receipt time returned is when it was first stored, so a redelivery gets the same receipt. What
// only a recipient sets (the decision and its details, the receipts) is not taken from the sender:
// a new copy starts pending, with the origin's receipt (it stored the hit when it made it) and this
// node's own.
func (s *Store) Receive(h Hit, role string) (time.Time, error) {
	return s.ReceiveFanOut(h, role, nil, nil)
}

// ReceiveFanOut is Receive that also queues, in the same transaction, a hit this node did not
// hold for the other nodes of its NCB (siblings), with the origin's signature sig: an NCB served
// by several nodes has one inbox, every one of them holding every hit (fanout.go).
func (s *Store) ReceiveFanOut(h Hit, role string, sig *Signature, siblings []string) (time.Time, error) {
	var at time.Time
	var fresh bool
	h.Decision, h.DecidedBy, h.DecidedVia, h.DecidedAt, h.Comment = Pending, "", "", time.Time{}, ""
	h.Receipts = map[string]string{RoleGS: "", RoleNCB: "", RoleOrigin: h.SearchedAt.UTC().Format(time.RFC3339Nano)}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHits)
		held := false
		if v := b.Get([]byte(h.ID)); v != nil {
			var old Hit
			if err := decode(tx, bucketHits, []byte(h.ID), v, &old); err != nil {
				return err
			}
			if r := old.Receipts[role]; r != "" {
				at, _ = time.Parse(time.RFC3339Nano, r)
				return nil
			}
			h, held = old, true
		}
		at = s.now().UTC()
		if h.Receipts == nil {
			h.Receipts = map[string]string{}
		}
		h.Receipts[role] = at.Format(time.RFC3339Nano)
		fresh = true
		if !held && sig != nil && len(siblings) > 0 {
			if err := queueFanout(tx, &h, sig, siblings); err != nil {
				return err
			}
		}
		return putHit(b, &h)
	})
	if err == nil && fresh {
		s.Published(h)
	}
	return at, err
}

// SetReceipt records at the origin that a recipient stored the hit.
func (s *Store) SetReceipt(id, role string, at time.Time) error {
	_, err := s.update(id, func(_ *bolt.Tx, h *Hit) error {
		if h.Receipts == nil {
			h.Receipts = map[string]string{}
		}
		if h.Receipts[role] == "" {
			h.Receipts[role] = at.UTC().Format(time.RFC3339Nano)
		}
		return nil
	})
	return err
}

// Get returns a stored hit.
func (s *Store) Get(id string) (Hit, error) {
	var h Hit
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHits).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return decode(tx, bucketHits, []byte(id), v, &h)
	})
	return h, err
}

// List returns the stored hits that keep says yes to, newest first.
func (s *Store) List(keep func(*Hit) bool) ([]Hit, error) {
	var out []Hit
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHits).ForEach(func(k, v []byte) error {
			var h Hit
			if err := decode(tx, bucketHits, k, v, &h); err != nil {
				return err
			}
			if keep(&h) {
				out = append(out, h)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].SearchedAt.After(out[j].SearchedAt) })
	return out, err
}

// Outbox lists the hits this node made (origin) that still miss a recipient's receipt, oldest
// first. It reads the outbox index, so it costs what the outbox holds, not what the inbox does.
func (s *Store) Outbox(origin string) ([]Hit, error) {
	var out []Hit
	prefix := []byte(origin + "\x00")
	err := s.db.View(func(tx *bolt.Tx) error {
		hits := tx.Bucket(bucketHits)
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			v := hits.Get(k[len(prefix):])
			if v == nil {
				continue
			}
			var h Hit
			if err := decode(tx, bucketHits, k[len(prefix):], v, &h); err != nil {
				return err
			}
			if !h.Delivered() {
				out = append(out, h)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].SearchedAt.Before(out[j].SearchedAt) })
	return out, err
}

// Counts is how many hits origin has in its outbox and how many hits await a decision past their
// deadline at now, read from the indexes.
func (s *Store) Counts(origin string, now time.Time) (outbox, overdue int, err error) {
	hits, err := s.Outbox(origin)
	if err != nil {
		return 0, 0, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		b := tx.Bucket(bucketHits)
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k[:8]) < uint64(now.UnixNano()); k, _ = c.Next() {
			v := b.Get(k[8:])
			if v == nil {
				continue
			}
			var h Hit
			if err := decode(tx, bucketHits, k[8:], v, &h); err != nil {
				return err
			}
			if h.Overdue(now) {
				overdue++
			}
		}
		return nil
	})
	return len(hits), overdue, err
}

// Decide records the owning NCB's decision on a hit it holds and queues the decision for delivery
// to the origin and the General Secretariat, in one transaction.
func (s *Store) Decide(d Decision, to []string) (Hit, error) {
	if d.Decision != Confirmed && d.Decision != Denied {
		return Hit{}, ErrBadDecision
	}
	return s.update(d.HitID, func(tx *bolt.Tx, h *Hit) error {
		if h.Decision != Pending && h.Decision != "" {
			return ErrDecided
		}
		return decideTx(tx, h, d, to)
	})
}

// DecideTx is Decide within tx, so the decision commits with what else tx holds (its audit entry):
// ErrDecided, with the hit as it stands, when it is decided already, and then nothing is written.
// Call Published with the hit once tx has committed.
func DecideTx(tx *bolt.Tx, d Decision, to []string) (Hit, error) {
	if d.Decision != Confirmed && d.Decision != Denied {
		return Hit{}, ErrBadDecision
	}
	return updateTx(tx, d.HitID, func(tx *bolt.Tx, h *Hit) error {
		if h.Decision != Pending && h.Decision != "" {
			return ErrDecided
		}
		return decideTx(tx, h, d, to)
	})
}

// SettleTx is Settle within tx (see DecideTx).
func SettleTx(tx *bolt.Tx, d Decision, to []string) (Hit, error) {
	return updateTx(tx, d.HitID, func(tx *bolt.Tx, h *Hit) error {
		return decideTx(tx, h, d, to)
	})
}

// decideTx lays d on h and queues it for delivery to the roles in to, within tx.
func decideTx(tx *bolt.Tx, h *Hit, d Decision, to []string) error {
	applyDecision(h, d)
	out := tx.Bucket(bucketDecisionOut)
	for _, role := range to {
		if err := put(out, bucketDecisionOut, []byte(d.HitID+"/"+role), d); err != nil {
			return err
		}
	}
	return nil
}

// Settle lays the decision in force on a hit held here (the GS inbox's word, whatever this copy
// said) and queues it for delivery to the roles in to, in one transaction.
func (s *Store) Settle(d Decision, to []string) (Hit, error) {
	return s.update(d.HitID, func(tx *bolt.Tx, h *Hit) error {
		return decideTx(tx, h, d, to)
	})
}

func applyDecision(h *Hit, d Decision) {
	h.Decision, h.Comment, h.DecidedBy, h.DecidedVia, h.DecidedAt = d.Decision, d.Comment, d.DecidedBy, d.DecidedVia, d.DecidedAt
}

// ReceiveDecision applies a decision routed from the NCB to this node's copy of the hit (the first
// one wins). The caller has verified who sent it and set d.DecidedVia.
func (s *Store) ReceiveDecision(d Decision) error {
	if err := d.Validate(); err != nil {
		return err
	}
	_, err := s.update(d.HitID, func(_ *bolt.Tx, h *Hit) error {
		if h.Decision == Pending || h.Decision == "" {
			applyDecision(h, d)
		}
		return nil
	})
	return err
}

// PendingDecision is a decision still to deliver to one recipient role.
type PendingDecision struct {
	Role     string
	Decision Decision
}

// DecisionsOut lists decisions not yet acknowledged.
func (s *Store) DecisionsOut() ([]PendingDecision, error) {
	var out []PendingDecision
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDecisionOut).ForEach(func(k, v []byte) error {
			var d Decision
			if err := decode(tx, bucketDecisionOut, k, v, &d); err != nil {
				return err
			}
			role := string(k[len(d.HitID)+1:])
			out = append(out, PendingDecision{Role: role, Decision: d})
			return nil
		})
	})
	return out, err
}

// DecisionDelivered removes a delivered decision from the outbox.
func (s *Store) DecisionDelivered(hitID, role string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDecisionOut).Delete([]byte(hitID + "/" + role))
	})
}
