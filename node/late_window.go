package node

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/wire"
)

// The federation-wide late window. A node that does not hold every shard hands each search it
// remembers to the central nodes (late_handover.go), with the shards it did not hold; each central
// node keeps it here, persisted in node.db so a restart keeps it (its own audit log does not hold
// other nodes' searches), and re-checks it against records applied later in those shards
// (late_central.go). See DESIGN.md, "Late matches for every shard".

// bucketLateWindow holds, on a central node, the searches handed over by other members: key
// origin NUL search id, value a lateHandover as JSON.
var bucketLateWindow = []byte("late_window")

// lateHandover is a search handed to the central nodes: what they need to re-check it as the node
// that made it would have. Version 1 of ProtoLate.
type lateHandover struct {
	SearchID   string    `json:"search_id"`
	At         time.Time `json:"at"`
	Agency     string    `json:"agency"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	// Origin is the node the search was made at; it hands the search over itself.
	Origin string `json:"origin"`
	// Shards are those the origin did not hold: the central node re-checks only these (the origin
	// re-checks its own).
	Shards []string `json:"shards"`
	// Found are the records the search answered already.
	Found   []string           `json:"found,omitempty"`
	Request wire.SearchRequest `json:"request"`
}

// key names a handed search in a central node's window: search ids are the origin's, so another
// member cannot take one over by reusing it.
func (h *lateHandover) key() string { return h.Origin + "\x00" + h.SearchID }

// handedSearch is a search in a central node's window.
type handedSearch struct {
	lateHandover
	shards map[string]bool
	// seen are the records already answered, at search time or late.
	seen map[string]bool
}

// handedWindow is a central node's federation-wide window. Each origin has a share of it (share
// searches); beyond its share, an origin's searches are refused, never another origin's evicted.
type handedWindow struct {
	window time.Duration
	share  int
	key    *seal.Key // seals the searches kept in node.db (nil: a plain dir)

	mu       sync.Mutex // guards everything below
	ix       *lateIndex // rebuilt as the window turns over (late_index.go)
	searches map[string]*handedSearch
	byOrigin map[string]int
}

func newHandedWindow(window time.Duration, share int, key *seal.Key) *handedWindow {
	return &handedWindow{window: window, share: share, key: key, ix: newLateIndex(),
		searches: map[string]*handedSearch{}, byOrigin: map[string]int{}}
}

// errOverShare is a search beyond its origin's share of the window.
var errOverShare = fmt.Errorf("over its share of the late window")

// add keeps h. A search already kept is no error (a hand-over repeated after a lost answer); one
// beyond its origin's share is errOverShare. Queries with a pattern are not kept (the reverse
// lookup cannot index one), as on the origin.
func (w *handedWindow) add(h lateHandover) error {
	if strings.ContainsAny(h.Request.Serial, "?*") {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := h.key()
	if _, dup := w.searches[k]; dup {
		return nil
	}
	if w.byOrigin[h.Origin] >= w.share {
		return errOverShare
	}
	s := &handedSearch{lateHandover: h, shards: map[string]bool{}, seen: map[string]bool{}}
	for _, sh := range h.Shards {
		s.shards[sh] = true
	}
	for _, id := range h.Found {
		s.seen[id] = true
	}
	w.searches[k] = s
	w.byOrigin[h.Origin]++
	w.ix.Put(s.entry())
	if w.ix.due(len(w.searches)) {
		es := make([]matcher.Entry, 0, len(w.searches))
		for _, s := range w.searches {
			es = append(es, s.entry())
		}
		w.ix.rebuild(es, &w.mu, func(k string) (matcher.Entry, bool) {
			if s := w.searches[k]; s != nil {
				return s.entry(), true
			}
			return matcher.Entry{}, false
		})
	}
	return nil
}

// entry is the search's entry in the window's index.
func (s *handedSearch) entry() matcher.Entry {
	r := &s.Request
	return matcher.Entry{Key: s.key(), Serial: r.Serial, Make: r.Make, Model: r.Model, Calibre: r.Calibre, Type: r.Type}
}

func (w *handedWindow) forget(k string) {
	s := w.searches[k]
	if s == nil {
		return
	}
	delete(w.searches, k)
	if w.byOrigin[s.Origin]--; w.byOrigin[s.Origin] <= 0 {
		delete(w.byOrigin, s.Origin)
	}
	w.ix.Delete(k)
}

// expire forgets the searches older than the window at now and returns their keys.
func (w *handedWindow) expire(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gone []string
	for k, s := range w.searches {
		if now.Sub(s.At) > w.window {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		w.forget(k)
	}
	return gone
}

// candidates are the kept searches that record r of shard might answer, within the window at now.
func (w *handedWindow) candidates(r *record.Record, shard string, now time.Time) []handedSearch {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []handedSearch
	taken := map[string]bool{}
	for _, serial := range append([]string{r.Serial}, r.OtherSerials...) {
		for _, res := range w.ix.Search(matcher.Query{Serial: serial, Make: r.Make, Calibre: r.Calibre, Type: r.Type, Limit: 50, Independent: true}) {
			s := w.searches[res.Key]
			if s == nil || !res.Review || taken[res.Key] || !s.shards[shard] || s.seen[r.ID] || now.Sub(s.At) > w.window {
				continue
			}
			taken[res.Key] = true
			out = append(out, *s)
		}
	}
	return out
}

func (w *handedWindow) markSeen(k, recordID string) {
	w.mu.Lock()
	if s := w.searches[k]; s != nil {
		s.seen[recordID] = true
	}
	w.mu.Unlock()
}

// counts is how many searches each origin has in the window.
func (w *handedWindow) counts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.byOrigin))
	for o, c := range w.byOrigin {
		out[o] = c
	}
	return out
}

// len is how many searches the window holds.
func (w *handedWindow) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.searches)
}

// keep persists accepted searches and adds them to the window; it returns the ids refused
// beyond their origin's share. Persisted first: a search the sender is told is kept survives a
// restart.
func (w *handedWindow) keep(db *bolt.DB, hs []lateHandover) (refused []string, err error) {
	var fit []lateHandover
	w.mu.Lock()
	room := map[string]int{}
	for _, h := range hs {
		if _, dup := w.searches[h.key()]; dup {
			continue
		}
		if _, ok := room[h.Origin]; !ok {
			room[h.Origin] = w.share - w.byOrigin[h.Origin]
		}
		if room[h.Origin] <= 0 {
			refused = append(refused, h.SearchID)
			continue
		}
		room[h.Origin]--
		fit = append(fit, h)
	}
	w.mu.Unlock()
	if len(fit) == 0 {
		return refused, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLateWindow)
		if err != nil {
			return err
		}
		for _, h := range fit {
			v, err := json.Marshal(h)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(h.key()), sealIn(w.key, bucketLateWindow, []byte(h.key()), v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("late window: %w", err)
	}
	var lost [][]byte
	for _, h := range fit {
		if w.add(h) == errOverShare {
			// A concurrent hand-over of the same origin took the room: not kept, not stored.
			refused = append(refused, h.SearchID)
			lost = append(lost, []byte(h.key()))
		}
	}
	return refused, w.drop(db, lost)
}

// load reads the persisted window back, dropping what is past it at now.
func (w *handedWindow) load(db *bolt.DB, now time.Time) error {
	var stale [][]byte
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLateWindow)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var h lateHandover
			plain, err := openIn(w.key, bucketLateWindow, k, v)
			if err != nil || json.Unmarshal(plain, &h) != nil || now.Sub(h.At) > w.window || h.key() != string(k) {
				stale = append(stale, append([]byte(nil), k...))
				return nil
			}
			if w.add(h) == errOverShare {
				stale = append(stale, append([]byte(nil), k...)) // the share was lowered since
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("late window: %w", err)
	}
	return w.drop(db, stale)
}

// drop deletes keys from the persisted window.
func (w *handedWindow) drop(db *bolt.DB, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLateWindow)
		if b == nil {
			return nil
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
