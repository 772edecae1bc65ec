package node

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// reviewed is an FR record with a review date.
func reviewed(id, serial, date string) record.Record {
	r := frRecord(id, serial)
	r.ReviewDate = date
	return r
}

// searchOne searches serial (make Glock) as the WCO and returns the result for id.
func searchOne(t *testing.T, tn *testNode, serial, id string) wire.SearchResult {
	t.Helper()
	var resp wire.SearchResponse
	a := tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": serial, "make": "glock"})
	if a.status != 200 {
		t.Fatalf("search %s: %d %s", serial, a.status, a.body)
	}
	a.decode(t, &resp)
	for _, r := range resp.Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("search %s did not return %s: %+v", serial, id, resp.Results)
	return wire.SearchResult{}
}

func hitCount(t *testing.T, tn *testNode) int {
	t.Helper()
	var list struct{ Hits []notify.Hit }
	tn.json(t, "admin", "GET", "/v1/hits", nil).decode(t, &list)
	return len(list.Hits)
}

func reviewPage(t *testing.T, tn *testNode, who, query string) wire.ReviewPage {
	t.Helper()
	a := tn.json(t, who, "GET", "/v1/review"+query, nil)
	if a.status != 200 {
		t.Fatalf("GET /v1/review%s as %s: %d %s", query, who, a.status, a.body)
	}
	var p wire.ReviewPage
	a.decode(t, &p)
	return p
}

func listed(p wire.ReviewPage) string {
	var b []string
	for _, r := range p.Records {
		b = append(b, r.ID+":"+r.State)
	}
	return strings.Join(b, " ")
}

// TestRecordPastGraceIsNotAHit: on the node's clock, a record past its review date is listed for its
// owner, and once the grace period has passed too a search, a screening line and a late match
// return it without a HIT (why.hit says so) and make no notification, until the owner renews it;
// a record without a review date never expires.
func TestRecordPastGraceIsNotAHit(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	tn := startNodeWithClock(t, t.TempDir(), fake) // grace: the default 90 days
	tn.importLines(t, "fr", jsonLines(
		reviewed("FR-DUE", "DUE1234567", "2026-11-24"),   // due since today, a HIT until 2027-02-23
		reviewed("FR-EXP", "EXP1234567", "2026-08-01"),   // no HIT since 2026-10-31
		reviewed("FR-FUT", "FUT1234567", "2026-11-25"),   // due tomorrow
		frRecord("FR-NONE", "NON1234567"),                // never
		reviewed("FR-EDGE", "EDG1234567", "2026-08-26"))) // no HIT from 2026-11-25 00:00, a moment ago

	for _, c := range []struct {
		serial, id string
		hit        bool
	}{{"DUE1234567", "FR-DUE", true}, {"EXP1234567", "FR-EXP", false}, {"FUT1234567", "FR-FUT", true},
		{"NON1234567", "FR-NONE", true}, {"EDG1234567", "FR-EDGE", false}} {
		r := searchOne(t, tn, c.serial, c.id)
		if r.Hit != c.hit || (r.NotificationID != "") != c.hit || !r.Review {
			t.Errorf("%s: hit %v (notification %q, review %v), want hit %v and review", c.id, r.Hit, r.NotificationID, r.Review, c.hit)
		}
		if !c.hit && !strings.Contains(r.Why.Hit, "review date "+r.Record.ReviewDate+" passed") {
			t.Errorf("%s: why.hit %q does not say the review date passed", c.id, r.Why.Hit)
		}
	}
	if n := hitCount(t, tn); n != 3 {
		t.Fatalf("%d hits stored, want 3 (DUE, FUT, NONE)", n)
	}

	// Screening: the same decision.
	body := jsonLines(map[string]string{"serial": "EXP1234567", "make": "glock"}, map[string]string{"serial": "DUE1234567", "make": "glock"})
	a := tn.call(t, "wco", "POST", "/v1/search/batch", "application/x-ndjson", strings.NewReader(body))
	lines, done := readBatchAnswer(t, a.body)
	if len(lines) != 2 || done.Hits != 1 || lines[0].Results[0].Hit || !lines[1].Results[0].Hit {
		t.Fatalf("screening: %d lines, %d hits, want the expired record without a HIT: %s", len(lines), done.Hits, a.body)
	}

	// The list: the owner sees its records past their date, oldest first; others do not.
	p := reviewPage(t, tn, "fr", "")
	if got := listed(p); got != "FR-EXP:expired FR-EDGE:expired FR-DUE:due" {
		t.Fatalf("FR's list: %q", got)
	}
	if len(p.Counts) != 1 || p.Counts[0] != (wire.ReviewCount{Country: "FR", Due: 1, Expired: 2}) || !p.Complete || p.GraceSeconds != 90*86400 {
		t.Fatalf("FR's page: %+v", p)
	}
	if p.Records[0].Record == nil || p.Records[0].Record.Serial != "EXP1234567" || !p.Records[0].NoHitFrom.Equal(time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("FR-EXP listed as %+v", p.Records[0])
	}
	if got := listed(reviewPage(t, tn, "fr", "?status=due")); got != "FR-DUE:due" {
		t.Fatalf("status=due: %q", got)
	}
	if got := listed(reviewPage(t, tn, "de", "")); got != "" {
		t.Fatalf("DE sees FR's records: %q", got)
	}
	if a := tn.json(t, "de", "GET", "/v1/review?country=FR", nil); a.status != 403 {
		t.Fatalf("DE asking for FR's list: %d %s", a.status, a.body)
	}
	if ops := reviewPage(t, tn, "ops", ""); len(ops.Records) != 0 || len(ops.Counts) != 1 || ops.Counts[0].Expired != 2 {
		t.Fatalf("an operator sees %+v, want the counts alone", ops)
	}
	if a := tn.json(t, "wco", "GET", "/v1/review", nil); a.status != 403 {
		t.Fatalf("a searcher reads the list: %d", a.status)
	}
	// Paged, as the GS.
	var all []string
	cursor := ""
	for range 5 {
		pg := reviewPage(t, tn, "admin", "?limit=1&cursor="+cursor)
		all = append(all, listed(pg))
		if cursor = pg.Cursor; cursor == "" {
			break
		}
	}
	if got := strings.Join(all, " "); got != "FR-EXP:expired FR-EDGE:expired FR-DUE:due" {
		t.Fatalf("pages of one: %q", got)
	}
	if a := tn.json(t, "admin", "GET", "/v1/review?cursor=bogus", nil); a.status != 400 {
		t.Fatalf("a bad cursor: %d", a.status)
	}
	if g := reviewGauge(t, tn, "fedarms_records_review_expired", "FR"); g != 2 {
		t.Fatalf("fedarms_records_review_expired{country=FR} = %v, want 2", g)
	}

	// FR-DUE stays a HIT to the last second of its grace.
	fake.Set(time.Date(2027, 2, 22, 23, 59, 59, 0, time.UTC))
	if r := searchOne(t, tn, "DUE1234567", "FR-DUE"); !r.Hit {
		t.Fatalf("FR-DUE before the grace ended: %+v", r)
	}
	fake.Advance(time.Second)
	if r := searchOne(t, tn, "DUE1234567", "FR-DUE"); r.Hit || r.NotificationID != "" {
		t.Fatalf("FR-DUE once the grace ended: %+v", r)
	}
	if r := searchOne(t, tn, "NON1234567", "FR-NONE"); !r.Hit {
		t.Fatal("a record without a review date expired")
	}

	// Renewed: a HIT again, off the list. Deleted: off the list.
	renewed := reviewed("FR-EXP", "EXP1234567", "2028-01-31")
	if a := tn.json(t, "fr", "PUT", "/v1/records/FR-EXP", renewed); a.status != 200 {
		t.Fatalf("renew: %d %s", a.status, a.body)
	}
	if r := searchOne(t, tn, "EXP1234567", "FR-EXP"); !r.Hit {
		t.Fatalf("renewed record: %+v", r)
	}
	if a := tn.json(t, "fr", "DELETE", "/v1/records/FR-EDGE", nil); a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if got := listed(reviewPage(t, tn, "fr", "")); got != "FR-DUE:expired FR-FUT:due" {
		t.Fatalf("after renewing FR-EXP and deleting FR-EDGE: %q", got)
	}
}

// TestLateMatchOfAnExpiredRecordIsNoHit: a record applied after a search it matches makes a late hit
// only while it is within its grace.
func TestLateMatchOfAnExpiredRecordIsNoHit(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	tn := startNodeWithClock(t, t.TempDir(), fake)
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "LATE-EXP-1", "make": "glock"})
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "LATE-OK-1", "make": "glock"})
	tn.late.sync()
	tn.importLines(t, "fr", jsonLines(reviewed("FR-LATE-EXP", "LATEEXP1", "2025-01-31"), reviewed("FR-LATE-OK", "LATEOK1", "2026-11-01")))
	var list struct{ Hits []notify.Hit }
	tn.json(t, "wco", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) != 1 || list.Hits[0].RecordID != "FR-LATE-OK" || !list.Hits[0].Late {
		t.Fatalf("late hits: %+v; want one, on FR-LATE-OK", list.Hits)
	}
}

// TestRetentionGraceOff: grace 0 withholds nothing; records past their date are still listed.
func TestRetentionGraceOff(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	tn := startNodeWithClock(t, t.TempDir(), fake, func(c *config.Config) { c.Retention.Grace.Duration = 0 })
	tn.importLines(t, "fr", jsonLines(reviewed("FR-OLD", "OLD7654321", "2001-01-01")))
	if r := searchOne(t, tn, "OLD7654321", "FR-OLD"); !r.Hit {
		t.Fatalf("grace off, yet no HIT: %+v", r)
	}
	if got := listed(reviewPage(t, tn, "fr", "")); got != "FR-OLD:due" {
		t.Fatalf("grace off: listed %q", got)
	}
}

// TestReviewListSurvivesRestart: the list is rebuilt with the index when a node opens.
func TestReviewListSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	fake := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	tn := startNodeWithClock(t, dir, fake)
	tn.importLines(t, "fr", jsonLines(reviewed("FR-R1", "RST1234567", "2026-01-01"), reviewed("FR-R2", "RST2234567", "2030-01-01")))
	tn.srv.Close()
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	tn = startNodeWithClock(t, dir, fake)
	if got := listed(reviewPage(t, tn, "fr", "")); got != "FR-R1:expired" {
		t.Fatalf("after a restart: %q", got)
	}
}

// TestReviewIndexKeepsChanges: updates move a record between days and countries, deletes take it
// out, and the counts and pages follow.
func TestReviewIndexKeepsChanges(t *testing.T) {
	x := newReviewIndex()
	rec := func(id, country, date string) *record.Record {
		return &record.Record{ID: id, RecordingCountry: country, ReviewDate: date}
	}
	x.apply([]replication.Change{
		{ID: "a", New: rec("a", "FR", "2026-01-01")},
		{ID: "b", New: rec("b", "FR", "2026-01-01")},
		{ID: "c", New: rec("c", "DE", "2026-06-01")},
		{ID: "d", New: rec("d", "FR", "")},
	})
	x.apply([]replication.Change{
		{ID: "b", Old: rec("b", "FR", "2026-01-01"), New: rec("b", "FR", "2027-01-01")},
		{ID: "c", Old: rec("c", "DE", "2026-06-01")},
		{ID: "d", Old: rec("d", "FR", ""), New: rec("d", "FR", "2025-12-31")},
	})
	c := cutoffsAt(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), 90*24*time.Hour)
	counts := x.counts(c, nil)
	if len(counts) != 1 || counts[0] != (reviewCount{country: "FR", due: 0, expired: 2}) {
		t.Fatalf("counts %+v", counts)
	}
	keys, more := x.page(noExpiry, c.due, nil, nil, 10)
	if more || len(keys) != 2 || keys[0].id != "d" || keys[1].id != "a" {
		t.Fatalf("page %+v (more %v)", keys, more)
	}
	keys, more = x.page(noExpiry, c.due, nil, nil, 1)
	if !more || len(keys) != 1 {
		t.Fatalf("first page of one: %+v", keys)
	}
	k, err := parseReviewCursor(reviewCursor(keys[0]))
	if err != nil || *k != keys[0] {
		t.Fatalf("cursor round trip: %+v %v", k, err)
	}
	if keys, more = x.page(noExpiry, c.due, nil, k, 1); more || len(keys) != 1 || keys[0].id != "a" {
		t.Fatalf("second page: %+v (more %v)", keys, more)
	}
}

// reviewGauge reads a gauge of the review metrics for country.
func reviewGauge(t *testing.T, tn *testNode, name, country string) float64 {
	t.Helper()
	resp, err := tn.scrape()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range families[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "country" && l.GetValue() == country {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{country=%q}", name, country)
	return 0
}

// TestRemoteAnswerOfAnExpiredRecordIsNoHit: an edge that does not hold the record's shard gets it
// from a central node, which reports its matcher's claim; the edge, which makes the hit, withholds
// it on its own clock and grace.
func TestRemoteAnswerOfAnExpiredRecordIsNoHit(t *testing.T) {
	fc := startFederation(t, []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "edge-nbo", Role: "edge", Country: "KE", Shards: []string{"africa"}},
	}, nil)
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	now := time.Now().UTC() // federation nodes keep the wall clock
	expired := reviewed("FR-REM-EXP", "REMEXP123", now.AddDate(0, 0, -200).Format(time.DateOnly))
	fresh := reviewed("FR-REM-OK", "REMOK1234", now.AddDate(1, 0, 0).Format(time.DateOnly))
	fc.importAt("lyon-1", fr, []record.Record{expired, fresh})
	edge := fc.nodes["edge-nbo"]
	ke := auth.Principal{Agency: "KE-CUSTOMS", Roles: []string{"searcher"}}
	search := func(serial string) *wire.SearchResponse {
		resp, err := edge.Search(context.Background(), ke, wire.SearchRequest{Serial: serial, Make: "glock"})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	testutil.WaitFor(t, 30*time.Second, "edge-nbo to find FR records through lyon-1", func() bool {
		return len(search("REMOK1234").Results) > 0
	})
	resp := search("REMEXP123")
	if len(resp.Results) == 0 || resp.Results[0].ID != "FR-REM-EXP" {
		t.Fatalf("remote search for the expired record: %+v", resp.Results)
	}
	if r := resp.Results[0]; r.Hit || r.NotificationID != "" || !strings.Contains(r.Why.Hit, "review date") {
		t.Fatalf("expired record from a remote answer: hit %v, notification %q, why %q", r.Hit, r.NotificationID, r.Why.Hit)
	}
	if r := search("REMOK1234").Results[0]; !r.Hit || r.NotificationID == "" {
		t.Fatalf("a record within its review date from a remote answer: %+v", r)
	}
}
