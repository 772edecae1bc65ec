package notify

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store-carry-forward: when an origin cannot reach any recipient of a hit, it hands the hit to a
// member it can reach (a carrier), which stores it, delivers it when it can, and carries the
// recipient's receipt back to the origin. Carried items are durable, like the outbox.

var bucketCarry = []byte("carry") // key: hit id + "/" + role

// Carried is a hit a carrier holds for one recipient role.
type Carried struct {
	Hit      Hit       `json:"hit"`
	Role     string    `json:"role"`
	StoredAt time.Time `json:"stored_at,omitzero"` // the recipient's receipt, once delivered
}

func (s *Store) carryBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists(bucketCarry)
}

// Carry stores a hit to deliver on behalf of its origin (once per hit and role).
func (s *Store) Carry(h Hit, role string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.carryBucket(tx)
		if err != nil {
			return err
		}
		key := []byte(h.ID + "/" + role)
		if b.Get(key) != nil {
			return nil
		}
		v, err := json.Marshal(Carried{Hit: h, Role: role})
		if err != nil {
			return err
		}
		return b.Put(key, v)
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
		return b.ForEach(func(_, v []byte) error {
			var c Carried
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// CarryDelivered records the recipient's receipt for a carried hit.
func (s *Store) CarryDelivered(hitID, role string, at time.Time) error {
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
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		c.StoredAt = at
		nv, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put(key, nv)
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
