package notify

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// An NCB served by several nodes has one inbox: the node that first stores a hit for the NCB
// hands it on to the NCB's other nodes (its siblings), with the origin's signature, so each of
// them takes it as from the origin (a sibling is no origin). The queue is durable, like the
// outbox: a hit this node stored is handed on even after a crash.

var bucketFanout = []byte("fanout") // key: hit id + NUL + sibling name; value: Fanout

// Fanout is a hit to hand to one sibling.
type Fanout struct {
	Hit Hit        `json:"hit"`
	To  string     `json:"to"`
	Sig *Signature `json:"sig"`
}

func fanoutKey(hitID, to string) []byte { return []byte(hitID + "\x00" + to) }

func queueFanout(tx *bolt.Tx, h *Hit, sig *Signature, siblings []string) error {
	b := tx.Bucket(bucketFanout)
	for _, to := range siblings {
		// The copy sent is the origin's: no receipts or decision of this node's.
		c := *h
		c.Receipts = nil
		if err := put(b, bucketFanout, fanoutKey(h.ID, to), Fanout{Hit: c, To: to, Sig: sig}); err != nil {
			return err
		}
	}
	return nil
}

// FanoutItems lists the hits still to hand to siblings.
func (s *Store) FanoutItems() ([]Fanout, error) {
	var out []Fanout
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFanout).ForEach(func(k, v []byte) error {
			var f Fanout
			if err := decode(tx, bucketFanout, k, v, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	return out, err
}

// FanoutDone forgets a hit handed to a sibling.
func (s *Store) FanoutDone(hitID, to string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFanout).Delete(fanoutKey(hitID, to))
	})
}

// FanoutPending counts the hits still to hand to siblings.
func (s *Store) FanoutPending() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFanout).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if bytes.IndexByte(k, 0) > 0 {
				n++
			}
		}
		return nil
	})
	return n
}
