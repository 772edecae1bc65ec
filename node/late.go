package node

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
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

	// wmu makes remember one writer at a time (the worker, and the load at start), so a sealed
	// generation's index is rebuilt outside mu.
	wmu sync.Mutex

	mu sync.Mutex // guards everything below
	// gens are the generations, oldest first; the last takes new searches (late_store.go).
	gens []*lateGen
	next uint64 // sequence number of the next search
	n    int    // searches remembered
	ids  map[[12]byte]uint64
	// otherIDs are the ids not in the node's own form (searchKey).
	otherIDs map[string]uint64
	// seen holds, per search with any, the records already answered (at search time or late); it
	// is dropped with its search, so forgetting costs the same however full the window is.
	seen map[uint64][]string
}

type pendingSearch struct {
	s     rememberedSearch
	found []string
}

func newLateWindow(window time.Duration, max int) *lateWindow {
	w := &lateWindow{window: window, max: max, gens: []*lateGen{newLateGen(0)},
		ids: map[[12]byte]uint64{}, otherIDs: map[string]uint64{}, seen: map[uint64][]string{},
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
	w.wmu.Lock() // the worker holds wmu while it remembers the last one taken
	w.wmu.Unlock()
}

func (w *lateWindow) close() {
	<-w.loaded
	close(w.queue)
	<-w.done
}

// genSize is how many searches a generation takes before it is sealed.
func (w *lateWindow) genSize() int { return max(1, w.max/lateGenDiv) }

// lookup finds a remembered search by id; the caller holds mu.
func (w *lateWindow) lookup(id string) (uint64, bool) {
	if k, ok := searchKey(id); ok {
		seq, found := w.ids[k]
		return seq, found
	}
	seq, found := w.otherIDs[id]
	return seq, found
}

// at is the generation and entry of a search's sequence number; the caller holds mu.
func (w *lateWindow) at(seq uint64) (*lateGen, *lateEntry) {
	for _, g := range w.gens {
		if seq >= g.first && seq < g.first+uint64(len(g.entries)) && int(seq-g.first) >= g.head {
			return g, &g.entries[seq-g.first]
		}
	}
	return nil, nil
}

// remember adds a search and the records it already found. Queries with unreadable characters are
// not re-checked (the reverse lookup cannot index a pattern).
func (w *lateWindow) remember(s rememberedSearch, found []string) {
	if strings.ContainsAny(s.Req.Serial, "?*") || w.max <= 0 {
		return
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.Lock()
	if _, dup := w.lookup(s.ID); dup {
		w.mu.Unlock()
		return
	}
	seq := w.next
	w.next++
	if k, ok := searchKey(s.ID); ok {
		w.ids[k] = seq
	} else {
		w.otherIDs[s.ID] = seq
	}
	if len(found) > 0 {
		w.seen[seq] = slices.Clone(found)
	}
	cur := w.gens[len(w.gens)-1]
	cur.add(&s)
	w.n++
	for w.n > w.max {
		w.forgetOldest()
	}
	var sealed *lateGen
	if len(cur.entries) >= w.genSize() {
		// Sealed, it takes nothing more: its arrays are cut to their length (append left up to
		// half of them spare) and its index is rebuilt in one run below.
		cur.sealed, cur.queries = true, nil
		cur.entries, cur.arena, cur.newest = slices.Clone(cur.entries), slices.Clone(cur.arena), slices.Clone(cur.newest)
		w.gens = append(w.gens, newLateGen(w.next))
		sealed = cur
	}
	w.mu.Unlock()
	if sealed != nil {
		ix := sealed.compacted()
		w.mu.Lock()
		sealed.ix = ix
		w.mu.Unlock()
	}
}

// forgetOldest forgets the oldest search; the caller holds mu.
func (w *lateWindow) forgetOldest() {
	g := w.gens[0]
	for g.head == len(g.entries) { // an emptied newest generation (the window's time passed)
		if len(w.gens) == 1 {
			return
		}
		w.gens = w.gens[1:]
		g = w.gens[0]
	}
	e := &g.entries[g.head]
	seq := g.first + uint64(g.head)
	if k, ok := searchKey(g.field(e, lfID)); ok {
		delete(w.ids, k)
	} else {
		delete(w.otherIDs, g.field(e, lfID))
	}
	delete(w.seen, seq)
	g.head++
	w.n--
	if g.head == len(g.entries) {
		if len(w.gens) > 1 {
			w.gens = w.gens[1:]
		} else {
			// The only generation, emptied: start it afresh so its index and arena go.
			w.gens[0] = newLateGen(w.next)
		}
	}
}

// oldest is the oldest remembered search's entry; the caller holds mu and w.n > 0.
func (w *lateWindow) oldest() *lateEntry {
	for _, g := range w.gens {
		if g.head < len(g.entries) {
			return &g.entries[g.head]
		}
	}
	return nil
}

// candidates are the remembered searches that a record might answer.
func (w *lateWindow) candidates(r *record.Record, now time.Time) []rememberedSearch {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.n > 0 && now.Sub(time.Unix(0, w.oldest().at)) > w.window {
		w.forgetOldest()
	}
	var out []rememberedSearch
	var taken map[uint64]bool
	for _, serial := range append([]string{r.Serial}, r.OtherSerials...) {
		q := matcher.Query{Serial: serial, Make: r.Make, Calibre: r.Calibre, Type: r.Type, Limit: 50, Independent: true}
		for _, g := range w.gens {
			if g.head == len(g.entries) {
				continue
			}
			for _, res := range g.ix.Search(q) {
				if !res.Review {
					continue
				}
				qn, err := strconv.ParseUint(res.Key, 36, 32)
				if err != nil || qn >= uint64(len(g.newest)) {
					continue
				}
				// The query's searches, newest first, down to the first one forgotten.
				for idx := g.newest[qn]; idx > uint32(g.head); idx = g.entries[idx-1].same {
					seq := g.first + uint64(idx-1)
					if taken[seq] || slices.Contains(w.seen[seq], r.ID) {
						continue
					}
					if taken == nil {
						taken = map[uint64]bool{}
					}
					taken[seq] = true
					out = append(out, g.search(&g.entries[idx-1]))
				}
			}
		}
	}
	return out
}

// search is the remembered search id.
func (w *lateWindow) search(id string) (rememberedSearch, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq, ok := w.lookup(id); ok {
		if g, e := w.at(seq); e != nil {
			return g.search(e), true
		}
	}
	return rememberedSearch{}, false
}

// each calls f with every remembered search, oldest first, and the records it has answered (f
// must not keep found); it holds the window's lock throughout.
func (w *lateWindow) each(f func(s rememberedSearch, found []string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range w.gens {
		for i := g.head; i < len(g.entries); i++ {
			f(g.search(&g.entries[i]), w.seen[g.first+uint64(i)])
		}
	}
}

// len is the number of searches remembered.
func (w *lateWindow) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *lateWindow) markSeen(searchID, recordID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq, ok := w.lookup(searchID); ok && !slices.Contains(w.seen[seq], recordID) {
		w.seen[seq] = append(w.seen[seq], recordID)
	}
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
