package notify

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A node may push the hits and decisions on its inbox to a national system (the node's webhook).
// The events wait in a queue in node.db, written in the same transaction that stores the hit or
// lays the decision on it, so a crash between the two loses nothing; the node sends them one at a
// time from the head, in the order they were stored (a hit before its decision), and deletes each
// once the receiver took it. The queue holds only what happens while a scope is set: the node sets
// it when a webhook is configured.

var (
	bucketWebhook     = []byte("webhook_queue") // key: sequence (u64 big-endian); value: WebhookEvent in JSON
	bucketWebhookMeta = []byte("webhook_meta")  // keyWebhookScope, keyWebhookNext, keyWebhookDropped
	keyWebhookScope   = []byte("scope")
	keyWebhookNext    = []byte("next")
	keyWebhookDropped = []byte("dropped")
	keyWebhookSince   = []byte("head_since") // key of the head event + u64 unix ns: when the sender first failed on it
)

// WebhookAll is the scope of a node that pushes every hit it holds (a central node: the GS inbox).
const WebhookAll = "*"

// webhookQueueMax bounds the queue; an event beyond it is counted as dropped, not stored.
var webhookQueueMax uint64 = 1_000_000

// Kinds of webhook events.
const (
	EventHit      = "hit"
	EventDecision = "decision"
)

// WebhookEvent is what the node POSTs: a hit stored on its inbox, or the decision laid on one. ID is
// stable per hit and kind (hit id + "/hit", hit id + "/decision"), so a receiver drops a repeat.
type WebhookEvent struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Hit  Hit    `json:"hit"`
}

func webhookBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketWebhook, bucketWebhookMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// SetWebhookScope says which hits from now on are queued for the webhook: WebhookAll, the hits of
// one recording country (an ISO code), or none (""). Events already queued stay queued.
func (s *Store) SetWebhookScope(scope string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhookMeta)
		if scope == "" {
			return b.Delete(keyWebhookScope)
		}
		return b.Put(keyWebhookScope, []byte(scope))
	})
}

// webhookScope is the scope set in tx, "" for none.
func webhookScope(tx *bolt.Tx) string {
	b := tx.Bucket(bucketWebhookMeta)
	if b == nil {
		return ""
	}
	return string(b.Get(keyWebhookScope))
}

func decided(d string) bool { return d == Confirmed || d == Denied }

// queueWebhook queues the events storing h over old (nil: h is new here) makes, inside the
// transaction that stores h: the hit when it is new, the decision when it changes to one.
func queueWebhook(tx *bolt.Tx, scope string, old, h *Hit) error {
	if scope != WebhookAll && scope != h.RecordingCountry {
		return nil
	}
	if old == nil {
		if err := enqueueWebhook(tx, WebhookEvent{ID: h.ID + "/" + EventHit, Kind: EventHit, Hit: *h}); err != nil {
			return err
		}
	}
	if decided(h.Decision) && (old == nil || old.Decision != h.Decision) {
		return enqueueWebhook(tx, WebhookEvent{ID: h.ID + "/" + EventDecision, Kind: EventDecision, Hit: *h})
	}
	return nil
}

func enqueueWebhook(tx *bolt.Tx, e WebhookEvent) error {
	meta, q := tx.Bucket(bucketWebhookMeta), tx.Bucket(bucketWebhook)
	next := u64(meta.Get(keyWebhookNext))
	if webhookLen(q, next) >= webhookQueueMax {
		return meta.Put(keyWebhookDropped, binary.BigEndian.AppendUint64(nil, u64(meta.Get(keyWebhookDropped))+1))
	}
	if err := put(q, bucketWebhook, binary.BigEndian.AppendUint64(nil, next), e); err != nil {
		return fmt.Errorf("queue webhook event %s: %w", e.ID, err)
	}
	return meta.Put(keyWebhookNext, binary.BigEndian.AppendUint64(nil, next+1))
}

// webhookLen is how many events the queue holds: they are deleted from the head only, so the
// sequences in it run from the first key to next-1.
func webhookLen(q *bolt.Bucket, next uint64) uint64 {
	k, _ := q.Cursor().First()
	if len(k) != 8 || binary.BigEndian.Uint64(k) >= next {
		return 0
	}
	return next - binary.BigEndian.Uint64(k)
}

func u64(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// WebhookHead is the oldest queued event: its key (for WebhookDone) and its body as it is POSTed;
// ok is false when the queue is empty.
func (s *Store) WebhookHead() (key, body []byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketWebhook).Cursor().First()
		if k == nil {
			return nil
		}
		p, err := open(tx, bucketWebhook, k, v)
		if err != nil {
			return err
		}
		key, body, ok = append([]byte(nil), k...), append([]byte(nil), p...), true
		return nil
	})
	return key, body, ok, err
}

// WebhookDone deletes the event at key, which the receiver took.
func (s *Store) WebhookDone(key []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWebhook).Delete(key)
	})
}

// WebhookSince is when the sender first failed to deliver the event at key, if it recorded it:
// the age of a stuck head survives a restart.
func (s *Store) WebhookSince(key []byte) (time.Time, bool) {
	var at time.Time
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketWebhookMeta).Get(keyWebhookSince)
		if len(v) == len(key)+8 && string(v[:len(key)]) == string(key) {
			at, ok = time.Unix(0, int64(binary.BigEndian.Uint64(v[len(key):]))), true
		}
		return nil
	})
	return at, ok
}

// SetWebhookSince records when the sender first failed on the event at key.
func (s *Store) SetWebhookSince(key []byte, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWebhookMeta).Put(keyWebhookSince, binary.BigEndian.AppendUint64(append([]byte(nil), key...), uint64(at.UnixNano())))
	})
}

// WebhookQueue is how many events wait, and how many were dropped because the queue was full.
func (s *Store) WebhookQueue() (queued, dropped uint64) {
	_ = s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketWebhookMeta)
		queued = webhookLen(tx.Bucket(bucketWebhook), u64(meta.Get(keyWebhookNext)))
		dropped = u64(meta.Get(keyWebhookDropped))
		return nil
	})
	return queued, dropped
}

// WebhookQueued is signalled (without blocking; it holds one signal) after a transaction that may
// have queued webhook events commits.
func (s *Store) WebhookQueued() <-chan struct{} { return s.queued }
