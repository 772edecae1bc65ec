package node

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// Delayed inquiry (after US NCIC): the node remembers the searches of a window (72 h by default)
// and re-checks them against every record applied later. A record that would have been a hit for
// an earlier search becomes a notification like any hit, marked late.
//
// The remembered searches are themselves indexed with the matcher (each search an entry whose
// serial is the query's), so a new record finds the searches it might answer with one lookup; each
// candidate is then verified by running the original query against the live index. The window is
// rebuilt at start from the audit log, which holds every search.

type rememberedSearch struct {
	ID         string
	At         time.Time
	Agency     string
	OnBehalfOf string
	Req        wire.SearchRequest
	// Uncovered are the shards of the shard map this node did not hold when it searched: the
	// central nodes re-check the search in those (late_handover.go).
	Uncovered []string
}

type lateWindow struct {
	window time.Duration
	max    int
	// queue takes searches from the search path to the worker, so remembering costs a search no
	// index update; it blocks only when 4096 searches wait, which bounds memory.
	queue chan pendingSearch
	done  chan struct{}
	// loaded is closed once the window has been rebuilt from the audit log.
	loaded chan struct{}
	// fed is the part of the window for shards this node does not hold (late_central.go), and
	// handOver gives a remembered search to it; both set by Open in a federation.
	fed      *federationLate
	handOver func(s rememberedSearch, found []string)

	mu       sync.Mutex // guards everything below
	ix       *matcher.Index
	searches map[string]*rememberedSearch
	order    []string // search ids, oldest first
	// seen holds, per search, the records already answered (at search time or late); it is
	// dropped with its search, so forgetting costs the same however full the window is.
	seen map[string]map[string]bool
}

type pendingSearch struct {
	s     rememberedSearch
	found []string
}

func newLateWindow(window time.Duration, max int) *lateWindow {
	w := &lateWindow{window: window, max: max, ix: matcher.New(referenceTables{}, matcher.Options{}),
		searches: map[string]*rememberedSearch{}, seen: map[string]map[string]bool{},
		queue: make(chan pendingSearch, 4096), done: make(chan struct{}), loaded: make(chan struct{})}
	go func() {
		defer close(w.done)
		for p := range w.queue {
			w.remember(p.s, p.found)
			if w.handOver != nil {
				w.handOver(p.s, p.found)
			}
		}
	}()
	return w
}

// rememberLater queues a search for the window.
func (w *lateWindow) rememberLater(s rememberedSearch, found []string) {
	w.queue <- pendingSearch{s, found}
}

// sync waits until every queued search is remembered (tests, and before re-checking).
func (w *lateWindow) sync() {
	for len(w.queue) > 0 {
		time.Sleep(time.Millisecond) // wall clock: a wait for the worker goroutine, not a time
	}
	w.mu.Lock() // the worker holds mu while it remembers the last one taken
	w.mu.Unlock()
}

func (w *lateWindow) close() {
	<-w.loaded
	close(w.queue)
	<-w.done
}

// remember adds a search and the records it already found. Queries with unreadable characters are
// not re-checked (the reverse lookup cannot index a pattern).
func (w *lateWindow) remember(s rememberedSearch, found []string) {
	if strings.ContainsAny(s.Req.Serial, "?*") {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.searches[s.ID]; dup {
		return
	}
	w.searches[s.ID] = &s
	w.order = append(w.order, s.ID)
	seen := make(map[string]bool, len(found))
	for _, id := range found {
		seen[id] = true
	}
	w.seen[s.ID] = seen
	w.ix.Put(matcher.Entry{Key: s.ID, Serial: s.Req.Serial, Make: s.Req.Make, Model: s.Req.Model, Calibre: s.Req.Calibre, Type: s.Req.Type})
	for len(w.order) > w.max {
		w.forgetOldest()
	}
}

func (w *lateWindow) forgetOldest() {
	id := w.order[0]
	w.order = w.order[1:]
	delete(w.searches, id)
	delete(w.seen, id)
	w.ix.Delete(id)
}

// candidates are the remembered searches that a record might answer.
func (w *lateWindow) candidates(r *record.Record, now time.Time) []rememberedSearch {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.order) > 0 && now.Sub(w.searches[w.order[0]].At) > w.window {
		w.forgetOldest()
	}
	var out []rememberedSearch
	for _, serial := range append([]string{r.Serial}, r.OtherSerials...) {
		for _, res := range w.ix.Search(matcher.Query{Serial: serial, Make: r.Make, Calibre: r.Calibre, Type: r.Type, Limit: 50, Independent: true}) {
			if s := w.searches[res.Key]; s != nil && res.Review && !w.seen[s.ID][r.ID] {
				out = append(out, *s)
			}
		}
	}
	return out
}

// search is the remembered search id.
func (w *lateWindow) search(id string) (rememberedSearch, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.searches[id]; s != nil {
		return *s, true
	}
	return rememberedSearch{}, false
}

func (w *lateWindow) markSeen(searchID, recordID string) {
	w.mu.Lock()
	if s := w.seen[searchID]; s != nil {
		s[recordID] = true
	}
	w.mu.Unlock()
}

// lateCheck re-checks remembered searches against records just applied (called by the index
// worker once the changes are searchable).
func (n *Node) lateCheck(changes []replication.Change) {
	<-n.late.loaded
	now := n.now().UTC()
	for _, c := range changes {
		if c.New == nil {
			continue
		}
		for _, s := range n.late.candidates(c.New, now) {
			res := n.localResults(s.Req, nil)
			n.withholdExpired(res) // retention.go
			for i := range res {
				if res[i].ID != c.New.ID || !res[i].Hit {
					continue
				}
				n.late.markSeen(s.ID, c.New.ID)
				p := auth.Principal{Agency: s.Agency}
				h := n.newHit(&res[i], s.ID, p, s.Req, now)
				h.Late, h.SearchedAt = true, s.At
				entry := audit.Entry{Agency: s.Agency, OnBehalfOf: s.OnBehalfOf, Action: "search.late",
					Query: mustJSON(map[string]any{"search_id": s.ID, "record_id": c.New.ID}), ResultIDs: []string{c.New.ID}, Outcome: "ok"}
				pending := n.audit.AppendWith(entry, func(tx *bolt.Tx) error { return notify.PutTx(tx, []notify.Hit{h}) })
				if _, err := pending.Wait(context.Background()); err != nil {
					n.log.Error("storing a late hit", "search", s.ID, "record", c.New.ID, "error", err)
					continue
				}
				n.log.Info("late hit", "search", s.ID, "record", c.New.ID, "searched_at", s.At)
				n.hits.Published(h)
				n.kickDelivery()
				n.met.hits.Inc()
			}
		}
	}
	n.lateCheckHanded(changes)
}

// auditedSearch is what a search's audit entry records as its query.
type auditedSearch struct {
	SearchID string `json:"search_id"`
	// Batch is the screening (POST /v1/search/batch) the search was a line of.
	Batch string `json:"batch,omitempty"`
	wire.SearchRequest
}

// loadLateWindow rebuilds the window from the audit log's recent searches.
func (n *Node) loadLateWindow() error {
	entries, err := n.audit.Tail(4 * n.cfg.Notify.LateMaxSearches)
	if err != nil {
		return err
	}
	now := n.now()
	for _, e := range entries {
		if e.Action != "search" || now.Sub(e.Time) > n.cfg.Notify.LateWindow.Duration {
			continue
		}
		var q auditedSearch
		if json.Unmarshal(e.Query, &q) != nil || q.SearchID == "" || q.Batch != "" {
			continue
		}
		n.late.remember(rememberedSearch{ID: q.SearchID, At: e.Time, Agency: e.Agency, OnBehalfOf: e.OnBehalfOf, Req: q.SearchRequest}, e.ResultIDs)
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
