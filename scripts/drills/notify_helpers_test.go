//go:build localfed

package drills

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// hitView is the part of a hit (CONTRACTS, GET /v1/hits) the notification drills read.
type hitView struct {
	ID               string            `json:"id"`
	RecordID         string            `json:"record_id"`
	RecordingCountry string            `json:"recording_country"`
	Origin           string            `json:"origin"`
	SearchedAt       time.Time         `json:"searched_at"`
	Receipts         map[string]string `json:"receipts"`
}

// delivered reports whether every recipient role has a receipt.
func (h *hitView) delivered() bool {
	return h.Receipts["gs"] != "" && h.Receipts["ncb"] != "" && h.Receipts["origin"] != ""
}

// receiptLag is the time from the search to the later of the GS and NCB receipts, by the
// timestamps the nodes wrote (all on one machine, so one clock); false when one is missing.
func (h *hitView) receiptLag() (time.Duration, bool) {
	var last time.Time
	for _, role := range []string{"gs", "ncb"} {
		at, err := time.Parse(time.RFC3339Nano, h.Receipts[role])
		if err != nil {
			return 0, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last.Sub(h.SearchedAt), true
}

// hitList is GET /v1/hits?status= with the admin token (which sees every hit the node stores),
// every page of it (a page holds at most 1,000).
func (n *nodeClient) hitList(status string) ([]hitView, error) {
	var all []hitView
	cursor := ""
	for {
		var out struct {
			Hits   []hitView `json:"hits"`
			Cursor string    `json:"cursor"`
		}
		q := url.Values{"limit": {"1000"}}
		if status != "" {
			q.Set("status", status)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if _, err := n.json("GET", "/v1/hits?"+q.Encode(), n.admin, nil, &out); err != nil {
			return all, err
		}
		all = append(all, out.Hits...)
		if out.Cursor == "" || len(out.Hits) == 0 {
			return all, nil
		}
		cursor = out.Cursor
	}
}

// hitGet is GET /v1/hits/{id} with the admin token.
func (n *nodeClient) hitGet(id string) (hitView, error) {
	var h hitView
	_, err := n.json("GET", "/v1/hits/"+url.PathEscape(id), n.admin, nil, &h)
	return h, err
}

// hitSearch searches for one recorded firearm by serial and make and returns the notification id
// of the result that is that record ("" when the answer made no hit on it).
func hitSearch(n *nodeClient, token, serial, make_, recordID string) (string, error) {
	var out struct {
		Results []struct {
			ID             string `json:"id"`
			Hit            bool   `json:"hit"`
			NotificationID string `json:"notification_id"`
		} `json:"results"`
	}
	if _, err := n.json("POST", "/v1/search", token, map[string]any{"serial": serial, "make": make_, "limit": 5}, &out); err != nil {
		return "", err
	}
	for _, r := range out.Results {
		if r.ID == recordID && r.Hit {
			return r.NotificationID, nil
		}
	}
	return "", nil
}

// hitTarget is a recorded firearm the drills search for to make a hit.
type hitTarget struct {
	ID, Serial, Make, Country string
}

// importTargets imports count probe records of country at that country's NCB (ncb-fr or ncb-ke)
// and waits until both edges find the last one (edge-nbo searches europe on a peer).
func importTargets(t *testing.T, f *fed, country, run string, count int) []hitTarget {
	t.Helper()
	ncb := f.node("ncb-" + strings.ToLower(country))
	tok := ncb.mint(t, country+"-NCB", country, "recorder", "searcher")
	var lines [][]byte
	var out []hitTarget
	for i := range count {
		r := probeRecord(country, run, i)
		b, _ := json.Marshal(r)
		lines = append(lines, b)
		out = append(out, hitTarget{ID: r.ID, Serial: r.Serial, Make: r.Make, Country: country})
	}
	importLines(t, ncb, tok, lines, 1000)
	last := out[len(out)-1]
	for _, edge := range []string{"edge-cdg", "edge-nbo"} {
		e := f.node(edge)
		stok := e.mint(t, "PROBE-"+e.country, e.country, "searcher")
		testutil.WaitFor(t, time.Minute, fmt.Sprintf("%s searchable at %s", last.ID, edge), func() bool {
			resp, err := search(e, stok, last.Serial)
			return err == nil && resp.has(last.ID)
		})
	}
	return out
}

// inboxes is a snapshot of every node's hit list, counted per hit id.
type inboxes map[string]map[string]int // node -> hit id -> times listed

// snapshotInboxes lists the hits of every node not in skip, concurrently.
func (f *fed) snapshotInboxes(skip ...string) (inboxes, error) {
	out := inboxes{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for _, name := range f.order {
		if slices.Contains(skip, name) {
			continue
		}
		wg.Go(func() {
			hits, err := f.nodes[name].hitList("")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = err
				return
			}
			m := map[string]int{}
			for _, h := range hits {
				m[h.ID]++
			}
			out[name] = m
		})
	}
	wg.Wait()
	return out, firstErr
}

// checkDelivery checks every hit in want (id -> recording country): listed exactly once at its
// country's NCB, at least once (and once per node) at some central node, never at the other
// country's NCB. It returns the problems (at most 10 named, then a count) and the largest number of
// central nodes holding one hit.
func (f *fed) checkDelivery(in inboxes, want map[string]string) ([]string, int) {
	var probs []string
	maxGS := 0
	for id, country := range want {
		gs := 0
		for _, c := range f.centrals() {
			switch k := in[c.name][id]; {
			case k > 1:
				probs = append(probs, fmt.Sprintf("%s listed %d times at %s", id, k, c.name))
			case k == 1:
				gs++
			}
		}
		maxGS = max(maxGS, gs)
		if gs == 0 {
			probs = append(probs, fmt.Sprintf("%s (%s) at no central node", id, country))
		}
		for _, name := range f.order {
			n := f.nodes[name]
			if n.role != "ncb" {
				continue
			}
			k := in[name][id]
			switch {
			case n.country == country && k != 1:
				probs = append(probs, fmt.Sprintf("%s (%s) listed %d times at %s, want once", id, country, k, name))
			case n.country != country && k != 0:
				probs = append(probs, fmt.Sprintf("%s (%s) listed %d times at %s, the wrong NCB", id, country, k, name))
			}
		}
	}
	sort.Strings(probs)
	if len(probs) > 10 {
		probs = append(probs[:10], fmt.Sprintf("... and %d more", len(probs)-10))
	}
	return probs, maxGS
}

// undelivered returns the ids of hits in want whose origin still misses a receipt, from each
// origin's GET /v1/hits?status=undelivered (origins in skip are not asked).
func (f *fed) undelivered(want map[string]string, skip ...string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, name := range []string{"edge-cdg", "edge-nbo"} {
		if slices.Contains(skip, name) {
			continue
		}
		hits, err := f.nodes[name].hitList("undelivered")
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			if _, ok := want[h.ID]; ok {
				out[h.ID] = true
			}
		}
	}
	return out, nil
}

// waitDelivered polls the origins until no hit of want is undelivered, and returns how long it
// took; on timeout it fails with how many are left.
func (f *fed) waitDelivered(t *testing.T, timeout time.Duration, want map[string]string) time.Duration {
	t.Helper()
	t0 := time.Now()
	left := -1
	for {
		u, err := f.undelivered(want)
		if err == nil {
			if left = len(u); left == 0 {
				return time.Since(t0)
			}
		}
		if time.Since(t0) > timeout {
			t.Fatalf("%d of %d hits still undelivered %v later (last error %v)", left, len(want), timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// originLags reads every hit of want at its origin and returns the receipt lags (receiptLag).
func (f *fed) originLags(t *testing.T, want map[string]string) []time.Duration {
	t.Helper()
	var lags []time.Duration
	for _, name := range []string{"edge-cdg", "edge-nbo"} {
		hits, err := f.nodes[name].hitList("")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if _, ok := want[h.ID]; !ok {
				continue
			}
			if d, ok := h.receiptLag(); ok {
				lags = append(lags, d)
			}
		}
	}
	return lags
}

// hitMaker searches at one edge, each search a hit on a recorded firearm, and collects the hit ids.
type hitMaker struct {
	edge  *nodeClient
	token string
}

func newHitMaker(t *testing.T, f *fed, edge string) *hitMaker {
	e := f.node(edge)
	return &hitMaker{edge: e, token: e.mint(t, "SEARCH-"+strings.ToUpper(edge), e.country, "searcher")}
}

// hit searches for target and returns the hit id; an answer without a hit on it is an error.
func (m *hitMaker) hit(target hitTarget) (string, error) {
	id, err := hitSearch(m.edge, m.token, target.Serial, target.Make, target.ID)
	if err == nil && id == "" {
		err = fmt.Errorf("search for %s at %s made no hit", target.ID, m.edge.name)
	}
	return id, err
}

// pollDelivered polls the hit at its origin every 10 ms until both receipts are in.
func (m *hitMaker) pollDelivered(id string, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for time.Since(t0) < timeout {
		if h, err := m.edge.hitGet(id); err == nil && h.delivered() {
			return time.Since(t0), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("hit %s at %s not delivered within %v", id, m.edge.name, timeout)
}

// requireDelivery snapshots every inbox and fails on any hit of want lost or duplicated.
func requireDelivery(t *testing.T, f *fed, drill string, want map[string]string) {
	t.Helper()
	requireDeliveredOnce(t, f, drill, want)
	// The GS inbox is one and so is each NCB's: every central node and every node of the NCB
	// lists each hit once, read page by page (inbox_test.go).
	var all []string
	if !waitFor(2*time.Minute, func() bool { all = f.inboxProblems(want); return len(all) == 0 }) {
		for _, p := range all {
			t.Error(p)
		}
	}
}

// requireDeliveredOnce checks each hit delivered once with its receipts, without asking every
// central node to list it: in a federation of mixed releases a central node of the earlier release
// keeps its own part of the GS inbox until it is upgraded.
func requireDeliveredOnce(t *testing.T, f *fed, drill string, want map[string]string) {
	t.Helper()
	in, err := f.snapshotInboxes()
	if err != nil {
		t.Fatalf("listing the inboxes: %v", err)
	}
	probs, maxGS := f.checkDelivery(in, want)
	measure(t, drill, "hits_checked", float64(len(want)), "hits")
	measure(t, drill, "central_copies_max", float64(maxGS), "nodes")
	for _, p := range probs {
		t.Error(p)
	}
}

// waitFor polls cond every 100 ms until it holds (true) or timeout passes (false).
func waitFor(timeout time.Duration, cond func() bool) bool {
	for t0 := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Since(t0) > timeout {
			return false
		}
	}
}
