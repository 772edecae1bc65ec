package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/auth"
)

// Hit is a match that must be notified to the General Secretariat, the recording country's NCB and
// the searching agency. This version stores it durably with its audit entry; routing it to the
// recipients and collecting their receipts is the notification subsystem's job.
type Hit struct {
	ID               string            `json:"id"`
	RecordID         string            `json:"record_id"`
	RecordingCountry string            `json:"recording_country"`
	SearchID         string            `json:"search_id"`
	Origin           string            `json:"origin"`
	Agency           string            `json:"agency"`
	OnBehalfOf       string            `json:"on_behalf_of"`
	SearchedAt       time.Time         `json:"searched_at"`
	Score            float64           `json:"score"`
	Why              map[string]string `json:"why,omitempty"`
	Decision         string            `json:"decision"`
	Receipts         map[string]string `json:"receipts"`
}

var bucketHits = []byte("hits")

func initHits(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketHits)
		return err
	})
}

func putHits(tx *bolt.Tx, hits []Hit) error {
	b := tx.Bucket(bucketHits)
	for _, h := range hits {
		v, err := json.Marshal(h)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(h.ID), v); err != nil {
			return fmt.Errorf("store hit: %w", err)
		}
	}
	return nil
}

func (n *Node) handleHitGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	var h Hit
	var found bool
	err := n.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHits).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &h)
	})
	if err != nil {
		return err
	}
	// GS (admin) sees all, an NCB the hits on its records, a searching agency its own.
	if !found || !(p.Has("admin") || h.Agency == p.Agency || (p.Country != "" && p.Country == h.RecordingCountry && p.Has("recorder"))) {
		return errf(404, "not_found", "no hit %q visible to %s", id, p.Agency)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// outboxDepth is the number of stored hits still waiting for a recipient's receipt.
func (n *Node) outboxDepth() int {
	depth := 0
	_ = n.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHits).ForEach(func(_, v []byte) error {
			var h Hit
			if json.Unmarshal(v, &h) == nil {
				for _, r := range h.Receipts {
					if r == "" {
						depth++
						break
					}
				}
			}
			return nil
		})
	})
	return depth
}
