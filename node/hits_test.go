package node

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

func TestHitListDecisionAndStreamOnOneNode(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-H1", "HIT12345")))
	// Follow the stream as the FR NCB.
	req, _ := http.NewRequest("GET", tn.srv.URL+"/v1/hits/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tn.tokens["fr"])
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				events <- sc.Text()
			}
		}
	}()
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "HIT12345", "make": "glock", "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 || !resp.Results[0].Hit || resp.Results[0].NotificationID == "" {
		t.Fatalf("no hit: %+v", resp.Results)
	}
	id := resp.Results[0].NotificationID
	select {
	case e := <-events:
		if !strings.Contains(e, id) {
			t.Fatalf("event %s", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event on the stream")
	}
	var list struct{ Hits []notify.Hit }
	tn.json(t, "fr", "GET", "/v1/hits?status=pending", nil).decode(t, &list)
	if len(list.Hits) != 1 || list.Hits[0].ID != id || !list.Hits[0].Delivered() || list.Hits[0].Deadline.IsZero() {
		t.Fatalf("FR NCB's list: %+v", list.Hits)
	}
	tn.json(t, "de", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) != 0 {
		t.Fatalf("DE NCB sees FR's hit: %+v", list.Hits)
	}
	tn.json(t, "wco", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) != 1 {
		t.Fatalf("the searching agency does not see its hit: %+v", list.Hits)
	}
	if a := tn.json(t, "de", "POST", "/v1/hits/"+id+"/decision", map[string]string{"decision": "denied"}); a.status != 403 {
		t.Fatalf("DE deciding on FR's hit: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "fr", "POST", "/v1/hits/"+id+"/decision", map[string]string{"decision": "perhaps"}); a.status != 400 {
		t.Fatalf("bad decision: %d", a.status)
	}
	if a := tn.json(t, "fr", "POST", "/v1/hits/"+id+"/decision", map[string]string{"decision": "confirmed", "comment": "seized"}); a.status != 200 {
		t.Fatalf("decision: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "fr", "POST", "/v1/hits/"+id+"/decision", map[string]string{"decision": "denied"}); a.status != 409 {
		t.Fatalf("second decision: %d", a.status)
	}
	var h notify.Hit
	tn.json(t, "wco", "GET", "/v1/hits/"+id, nil).decode(t, &h)
	if h.Decision != "confirmed" || h.DecidedBy != "FR-NCB" {
		t.Fatalf("hit after decision %+v", h)
	}
}

func TestFederationHitReachesGSAndNCBOnceAndDecisionComesBack(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder", "searcher"}}
	fc.importAt("ncb-ke", ke, fedRecords("KE", 0, 50))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	edge := fc.nodes["edge-cdg"]
	customs := auth.Principal{Agency: "FR-DOUANE", Roles: []string{"searcher"}}
	var ids []string
	for i := 0; i < 10; i++ {
		// Converged raft states do not mean the edge's index has taken the records in yet (it
		// applies them in the background): an empty answer makes no hit, so it is asked again.
		var resp *wire.SearchResponse
		var err error
		testutil.WaitFor(t, 20*time.Second, "the edge's index to hold the KE records", func() bool {
			resp, err = edge.Search(context.Background(), customs, wire.SearchRequest{Serial: fmtSerial("KE", i), Make: "glock"})
			return err != nil || len(resp.Results) > 0
		})
		if err != nil || len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
			t.Fatalf("search %d: %v %+v", i, err, resp)
		}
		ids = append(ids, resp.Results[0].NotificationID)
	}
	delivered := func() bool {
		out, _ := edge.hits.Outbox("edge-cdg")
		return len(out) == 0
	}
	testutil.WaitFor(t, 20*time.Second, "the edge's outbox to empty", delivered)
	// Every central node that received a copy holds it once; the NCB of Kenya holds all ten.
	for _, id := range ids {
		n := 0
		for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
			if _, err := fc.nodes[name].hits.Get(id); err == nil {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("hit %s reached no central node", id)
		}
		if _, err := fc.nodes["ncb-ke"].hits.Get(id); err != nil {
			t.Fatalf("hit %s not at the NCB of Kenya: %v", id, err)
		}
		if _, err := fc.nodes["ncb-fr"].hits.Get(id); err == nil {
			t.Fatalf("hit %s went to the NCB of France", id)
		}
	}
	// Kenya decides; the decision reaches the origin.
	if _, err := fc.nodes["ncb-ke"].hits.Decide(notify.Decision{HitID: ids[0], Decision: notify.Confirmed, DecidedBy: "KE-NCB", DecidedAt: time.Now()}, []string{notify.RoleOrigin, notify.RoleGS}); err != nil {
		t.Fatal(err)
	}
	fc.nodes["ncb-ke"].kickDelivery()
	testutil.WaitFor(t, 20*time.Second, "the confirmation at the edge", func() bool {
		h, err := edge.hits.Get(ids[0])
		return err == nil && h.Decision == notify.Confirmed
	})
	// A cut edge keeps its hits until the heal, then delivers them.
	edge.fed.faults.Isolate(edge.fed.id.ID)
	resp, err := edge.Search(context.Background(), customs, wire.SearchRequest{Serial: fmtSerial("KE", 20), Make: "glock"})
	if err != nil || len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
		t.Fatalf("search while cut: %v %+v", err, resp)
	}
	time.Sleep(time.Second)
	if delivered() {
		t.Fatal("a hit made while cut off was delivered")
	}
	t0 := time.Now()
	edge.fed.faults.Rejoin(edge.fed.id.ID)
	testutil.WaitFor(t, 30*time.Second, "the edge's outbox to empty", delivered)
	t.Logf("hit made while cut delivered %v after the heal", time.Since(t0))
}

func fmtSerial(country string, i int) string {
	return fmt.Sprintf("%sX%06d", country, i) // as fedRecords writes them
}

func TestLateMatchAfterAnHourOfSimulatedTime(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	tn := startNodeWithClock(t, t.TempDir(), fake)
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "LATE-77123", "make": "Beretta", "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) != 0 {
		t.Fatalf("found before the record exists: %+v", resp.Results)
	}
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "OLD-55555", "make": "Beretta"})
	tn.late.sync()
	fake.Advance(time.Hour)
	late := frRecord("FR-LATE", "LATE77123")
	late.Make = "Beretta"
	// An import is answered once its records are indexed, and the index worker re-checks the
	// window before it counts them indexed: the late hit is stored when the answer comes.
	tn.importLines(t, "fr", jsonLines(late))
	var list struct{ Hits []notify.Hit }
	tn.json(t, "wco", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) != 1 {
		t.Fatalf("hits after the late record: %+v", list.Hits)
	}
	h := list.Hits[0]
	if !h.Late || h.RecordID != "FR-LATE" || h.SearchID != resp.SearchID || h.OnBehalfOf != "KE-CUSTOMS" || !h.SearchedAt.Equal(start) {
		t.Fatalf("late hit %+v", h)
	}
	// The window is 72 h, counted on the node's clock: a search 72 h old is still re-checked (the
	// other search, OLD-55555, was made at start), one a moment older is not.
	fake.Set(start.Add(72 * time.Hour))
	if c := tn.late.candidates(&record.Record{ID: "FR-PROBE", Serial: "OLD55555", Make: "Beretta"}, fake.Now()); len(c) != 1 {
		t.Fatalf("a search exactly the window old: %d candidates, want 1", len(c))
	}
	fake.Advance(time.Second)
	old := frRecord("FR-OLD", "OLD55555")
	old.Make = "Beretta"
	tn.importLines(t, "fr", jsonLines(old))
	tn.json(t, "wco", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) != 1 {
		t.Fatalf("a search older than the window produced a late hit: %+v", list.Hits)
	}
}

func TestLateWindowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, dir)
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "REST-4242", "make": "Colt"})
	tn.late.sync()
	tn.srv.Close()
	tn.Close()
	tn2 := startNode(t, dir)
	r := frRecord("FR-REST", "REST4242")
	r.Make = "Colt"
	tn2.importLines(t, "fr", jsonLines(r))
	testutil.WaitFor(t, 10*time.Second, "the late hit after the restart", func() bool {
		hits, _ := tn2.hits.List(func(h *notify.Hit) bool { return h.Late && h.RecordID == "FR-REST" })
		return len(hits) == 1
	})
}

func TestFederationHitTravelsThroughAnotherEdge(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}
	fc.importAt("ncb-ke", ke, fedRecords("KE", 0, 20))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	edge := fc.nodes["edge-cdg"]
	// Cut the Paris edge from the central nodes and Kenya's NCB, not from the Nairobi edge.
	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3", "ncb-ke"} {
		edge.fed.faults.Cut(edge.fed.id.ID, fc.nodes[name].fed.id.ID)
	}
	resp, err := edge.Search(context.Background(), auth.Principal{Agency: "FR-DOUANE", Roles: []string{"searcher"}}, wire.SearchRequest{Serial: fmtSerial("KE", 7), Make: "glock"})
	if err != nil || len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
		t.Fatalf("search: %v %+v", err, resp)
	}
	id := resp.Results[0].NotificationID
	t0 := time.Now()
	testutil.WaitFor(t, 30*time.Second, "the hit to be delivered", func() bool {
		h, err := edge.hits.Get(id)
		return err == nil && h.Delivered()
	})
	t.Logf("hit delivered through the other edge in %v", time.Since(t0))
	if _, err := fc.nodes["ncb-ke"].hits.Get(id); err != nil {
		t.Fatalf("not at Kenya's NCB: %v", err)
	}
	// Kenya's NCB was handed the hit by a carrier, not by the cut edge.
	entries, _ := fc.nodes["ncb-ke"].audit.Tail(50)
	var from []string
	for _, e := range entries {
		if e.Action == "hit.received" && len(e.ResultIDs) > 0 && e.ResultIDs[0] == id {
			from = append(from, e.Agency)
		}
	}
	if len(from) != 1 || from[0] == "member:edge-cdg" {
		t.Fatalf("the NCB received the hit from %v", from)
	}
}

// TestFederationHitsSurviveSeededChaos is the short, in-process version of the randomised drill
// (scripts/drills TestDrillHitsChaos runs the long one over separate processes): while members are
// cut off and healed at random (seeded), the edges keep searching and making hits; once everything
// heals, every hit is at its recipients, none lost, and each inbox holds it once.
func TestFederationHitsSurviveSeededChaos(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	fc.importAt("ncb-ke", auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}, fedRecords("KE", 0, 200))
	fc.importAt("ncb-fr", auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}, fedRecords("FR", 0, 200))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	rng := rand.New(rand.NewPCG(7, 7))
	names := []string{"lyon-1", "lyon-2", "lyon-3", "ncb-fr", "ncb-ke", "edge-cdg", "edge-nbo"}
	type made struct{ id, origin, country string }
	var hits []made
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		// A fault: isolate someone, or cut a pair, or heal someone.
		victim := fc.nodes[names[rng.IntN(len(names))]]
		switch rng.IntN(3) {
		case 0:
			victim.fed.faults.Isolate(victim.fed.id.ID)
		case 1:
			other := fc.nodes[names[rng.IntN(len(names))]]
			if other != victim {
				victim.fed.faults.Cut(victim.fed.id.ID, other.fed.id.ID)
			}
		default:
			victim.fed.faults.HealAll()
		}
		origin := []string{"edge-cdg", "edge-nbo"}[rng.IntN(2)]
		country := []string{"FR", "KE"}[rng.IntN(2)]
		resp, err := fc.nodes[origin].Search(context.Background(), auth.Principal{Agency: "CUSTOMS", Roles: []string{"searcher"}},
			wire.SearchRequest{Serial: fmtSerial(country, rng.IntN(200)), Make: "glock"})
		if err == nil {
			for _, r := range resp.Results {
				if r.NotificationID != "" {
					hits = append(hits, made{r.NotificationID, origin, country})
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range fc.nodes {
		n.fed.faults.HealAll()
	}
	if len(hits) < 20 {
		t.Fatalf("only %d hits made", len(hits))
	}
	t0 := time.Now()
	testutil.WaitFor(t, 60*time.Second, "every hit to be delivered", func() bool {
		for _, h := range hits {
			got, err := fc.nodes[h.origin].hits.Get(h.id)
			if err != nil || !got.Delivered() {
				return false
			}
		}
		return true
	})
	t.Logf("%d hits made under chaos, all delivered %v after the last heal", len(hits), time.Since(t0))
	ncb := map[string]string{"FR": "ncb-fr", "KE": "ncb-ke"}
	for _, h := range hits {
		if _, err := fc.nodes[ncb[h.country]].hits.Get(h.id); err != nil {
			t.Fatalf("hit %s missing at %s", h.id, ncb[h.country])
		}
		other := map[string]string{"FR": "ncb-ke", "KE": "ncb-fr"}[h.country]
		if _, err := fc.nodes[other].hits.Get(h.id); err == nil {
			t.Fatalf("hit %s went to %s", h.id, other)
		}
	}
	// The GS inbox is one: every central node lists every hit, once.
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	testutil.WaitFor(t, 30*time.Second, "every central node to list every hit once", func() bool { return fc.holdsAll(centrals, ids) })
}
