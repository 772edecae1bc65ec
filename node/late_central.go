package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/replication"
)

// A central node re-checks the searches other members handed over against the records applied
// later in the shards those members did not hold. A match is made into a late hit whose id is
// derived from the origin, the search and the record (lateHitID), so that every central node that
// finds it makes the same hit: the GS inbox stores the first one committed and ignores the others,
// and the central node whose copy was committed (the hit's origin) is the one that delivers it, to
// the recording NCB through its outbox and to the searching node (late_relay.go). Until then the
// hit waits in bucketLateOut, written with its audit entry, so neither a restart nor an inbox
// without quorum loses it.

// bucketLateOut holds, on a central node, the late hits it made for searches handed over: key the
// hit id, value a lateOutItem as JSON.
var bucketLateOut = []byte("late_out")

// lateOutItem is a late hit a central node made for another member's search, until the searching
// node holds it and, once the NCB has decided, the decision.
type lateOutItem struct {
	Hit notify.Hit `json:"hit"`
	// Searcher is the node the search was made at.
	Searcher string `json:"searcher"`
	// DeliveredAt is when the searcher stored the hit (its receipt); zero until then.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// federationLate is what a node keeps for late matches in the shards it does not hold.
type federationLate struct {
	// handed is, on a central node, the searches other members handed over; nil elsewhere.
	handed *handedWindow
	// queue takes searches from the late window's worker to the hand-over queue in node.db
	// (searching nodes that lack a shard); 4096 waiting block it, which bounds memory.
	queue chan lateHandover
	kick  chan struct{}
	// after and outAfter are where the next pass over the hand-over queue and over the late
	// hits made here start (runLate's alone).
	after, outAfter []byte

	mu sync.Mutex // guards next and silent
	// next is when a key (a central node, a late hit) may be tried again after a failure.
	next map[string]retry
	// silent are the central nodes that do not speak ProtoLate (an earlier release), until when.
	silent map[peer.ID]time.Time
}

// key seals what the central window keeps in node.db (nil: a plain dir).
func newFederationLate(central bool, window time.Duration, share int, key *seal.Key) *federationLate {
	fl := &federationLate{queue: make(chan lateHandover, 4096), kick: make(chan struct{}, 1),
		next: map[string]retry{}, silent: map[peer.ID]time.Time{}}
	if central {
		fl.handed = newHandedWindow(window, share, key)
	}
	return fl
}

func (fl *federationLate) wake() {
	select {
	case fl.kick <- struct{}{}:
	default:
	}
}

// due says whether key may be tried at now; failed backs it off (1 s doubling to 5 s, so a healed
// link is used within seconds); done forgets it.
func (fl *federationLate) due(key string, now time.Time) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return !now.Before(fl.next[key].next)
}

func (fl *federationLate) failed(key string, now time.Time) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	r := fl.next[key]
	r.delay = min(max(2*r.delay, time.Second), 5*time.Second)
	r.next = now.Add(r.delay)
	fl.next[key] = r
}

func (fl *federationLate) done(key string) {
	fl.mu.Lock()
	delete(fl.next, key)
	fl.mu.Unlock()
}

// lateHitID is the id every central node gives the late hit of a search on a record.
func lateHitID(origin, searchID, recordID string) string {
	sum := sha256.Sum256([]byte("fedarms/late-hit/v1\x00" + origin + "\x00" + searchID + "\x00" + recordID))
	return "h-" + hex.EncodeToString(sum[:12])
}

// lateCheckHanded re-checks, on a central node, the searches handed over against records just
// applied in the shards their origins did not hold.
func (n *Node) lateCheckHanded(changes []replication.Change) {
	fl := n.late.fed
	if fl == nil || fl.handed == nil {
		return
	}
	now := n.now().UTC()
	for _, c := range changes {
		if c.New == nil {
			continue
		}
		shard, ok := n.shardMap.Shard(c.New.RecordingCountry)
		if !ok {
			continue
		}
		for _, s := range fl.handed.candidates(c.New, shard, now) {
			res := n.localResults(s.Request, map[string]bool{shard: true})
			n.withholdExpired(res) // retention.go
			for i := range res {
				if res[i].ID != c.New.ID || !res[i].Hit {
					continue
				}
				fl.handed.markSeen(s.key(), c.New.ID)
				req := s.Request
				req.OnBehalfOf = s.OnBehalfOf
				h := n.newHit(&res[i], s.SearchID, auth.Principal{Agency: s.Agency}, req, now)
				h.ID = lateHitID(s.Origin, s.SearchID, c.New.ID)
				h.Late, h.SearchedAt, h.SearchOrigin = true, s.At, s.Origin
				n.lateHitMade(lateOutItem{Hit: h, Searcher: s.Origin})
			}
		}
	}
}

// lateHitMade queues a late hit for the GS inbox and the searcher, durably with its audit entry.
// A hit already here (another central node's copy was committed first) is not made again.
func (n *Node) lateHitMade(it lateOutItem) {
	h := &it.Hit
	if _, err := n.hits.Get(h.ID); err == nil {
		return
	}
	v, err := json.Marshal(it)
	if err != nil {
		n.log.Error("encoding a late hit", "hit", h.ID, "error", err)
		return
	}
	entry := audit.Entry{Agency: h.Agency, OnBehalfOf: h.OnBehalfOf, Action: "search.late",
		Query:     mustJSON(map[string]any{"search_id": h.SearchID, "record_id": h.RecordID, "origin": it.Searcher}),
		ResultIDs: []string{h.RecordID, h.ID}, Outcome: "ok"}
	pending := n.audit.AppendWith(entry, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLateOut)
		if err != nil {
			return err
		}
		if b.Get([]byte(h.ID)) != nil {
			return nil
		}
		return b.Put([]byte(h.ID), sealIn(n.atRest.key, bucketLateOut, []byte(h.ID), v))
	})
	if _, err := pending.Wait(context.Background()); err != nil {
		n.log.Error("storing a late hit for another member's search", "search", h.SearchID, "record", h.RecordID, "error", err)
		return
	}
	n.log.Info("late hit for another member's search", "search", h.SearchID, "record", h.RecordID, "searcher", it.Searcher, "hit", h.ID)
	n.late.fed.wake()
}

// lateOutItems reads up to max queued late hits from the key after (from the first when after is
// nil or past the last), and returns where the next read starts (nil: from the first again). Items
// waiting for a decision thus never hold back the ones behind them.
func (n *Node) lateOutItems(after []byte, max int) ([]lateOutItem, []byte, error) {
	var out []lateOutItem
	var next []byte
	var bad [][]byte
	err := n.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLateOut)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek(after)
		if k == nil {
			k, v = c.First()
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == max {
				next = append([]byte(nil), k...)
				break
			}
			var it lateOutItem
			plain, err := openIn(n.atRest.key, bucketLateOut, k, v)
			if err != nil || json.Unmarshal(plain, &it) != nil || it.Hit.ID != string(k) {
				bad = append(bad, append([]byte(nil), k...))
				continue
			}
			out = append(out, it)
		}
		return nil
	})
	if err == nil && len(bad) > 0 {
		n.log.Error("dropping unreadable late hits", "count", len(bad), "first", fmt.Sprintf("%q", bad[0]))
		err = n.db.Update(func(tx *bolt.Tx) error {
			for _, k := range bad {
				if err := tx.Bucket(bucketLateOut).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return out, next, err
}

// putLateOut replaces a queued late hit; with done, removes it.
func (n *Node) putLateOut(it lateOutItem, done bool) error {
	return n.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLateOut)
		if err != nil {
			return err
		}
		if done {
			return b.Delete([]byte(it.Hit.ID))
		}
		v, err := json.Marshal(it)
		if err != nil {
			return err
		}
		return b.Put([]byte(it.Hit.ID), sealIn(n.atRest.key, bucketLateOut, []byte(it.Hit.ID), v))
	})
}
