package notify

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store-carry-forward: when an origin cannot reach any recipient of a hit, it hands the hit to a
// member it can reach (a carrier), which stores it, delivers it when it can, and carries the
// recipient's receipt back to the origin. Carried items are durable, like the outbox.

var bucketCarry = []byte("carry") // key: hit id + "/" + role

// Carried is a hit a carrier holds for one recipient role. The carrier keeps the origin's
// signature over the hit (a recipient takes a hit from a carrier only with it) and, once delivered,
// the recipient's signed receipt (the origin takes a receipt from a carrier only with it). Items
// stored before signatures existed have neither; recipients refuse them and the carrier drops them
// (the origin still holds the hit in its outbox and retries).
type Carried struct {
	Hit       Hit        `json:"hit"`
	Role      string     `json:"role"`
	OriginSig *Signature `json:"origin_sig,omitempty"`
	StoredAt  time.Time  `json:"stored_at,omitzero"` // the recipient's receipt, once delivered
	Receipt   *Signature `json:"receipt,omitempty"`  // the recipient's signature over that receipt
}

func (s *Store) carryBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists(bucketCarry)
}

// Carry stores a hit to deliver on behalf of its origin (once per hit and role), with the origin's
// signature over it.
func (s *Store) Carry(h Hit, role string, originSig *Signature) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.carryBucket(tx)
		if err != nil {
			return err
		}
		key := []byte(h.ID + "/" + role)
		if b.Get(key) != nil {
			return nil
		}
		return put(b, bucketCarry, key, Carried{Hit: h, Role: role, OriginSig: originSig})
	})
}

// CarriedItems lists what this node carries.
func (s *Store) CarriedItems() ([]Carried, error) {
	var out []Carried
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCarry)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var c Carried
			if err := decode(tx, bucketCarry, k, v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// CarryDelivered records the recipient's receipt for a carried hit, and its signature over it.
func (s *Store) CarryDelivered(hitID, role string, at time.Time, receipt *Signature) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.carryBucket(tx)
		if err != nil {
			return err
		}
		key := []byte(hitID + "/" + role)
		v := b.Get(key)
		if v == nil {
			return ErrNotFound
		}
		var c Carried
		if err := decode(tx, bucketCarry, key, v, &c); err != nil {
			return err
		}
		c.StoredAt, c.Receipt = at, receipt
		return put(b, bucketCarry, key, c)
	})
}

// CarryDone forgets a carried hit once its receipt reached the origin.
func (s *Store) CarryDone(hitID, role string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.carryBucket(tx)
		if err != nil {
			return err
		}
		return b.Delete([]byte(hitID + "/" + role))
	})
}
