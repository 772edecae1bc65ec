package node

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/wire"
)

// TestScrapingTokenStopsUnderItsRecordsLimit is the scraping drill of issue 17 on one node: a
// searcher token pages through a register of 600 records with broad queries. Before, nothing
// bounded it; now it receives fewer distinct records than its hourly limit before every search is
// refused (429 read_limit, Retry-After), each refusal audited and counted; an hour later it may read
// again, up to its daily limit.
func TestScrapingTokenStopsUnderItsRecordsLimit(t *testing.T) {
	fake := clock.NewFake(time.Now())
	tn := startNodeWithClock(t, t.TempDir(), fake, func(c *config.Config) {
		c.Limits.RecordsPerHour, c.Limits.RecordsPerDay = 60, 100
	})
	var recs []any
	for i := range 600 {
		recs = append(recs, frRecord(fmt.Sprintf("FR-SCR-%04d", i), fmt.Sprintf("SCR%04d", i)))
	}
	tn.importLines(t, "fr", jsonLines(recs...))
	secret, _, err := tn.Tokens().Issue(auth.Request{Agency: "FR-SCRAPE", Country: "FR", Roles: []string{auth.RoleSearcher}})
	if err != nil {
		t.Fatal(err)
	}
	tn.tokens["scraper"] = secret

	seen := map[string]bool{}
	scrape := func(from int) (refused answer, searches int) {
		for i := from; i < 600; i += 7 {
			a := tn.json(t, "scraper", "POST", "/v1/search", map[string]any{"serial": fmt.Sprintf("SCR%04d", i), "limit": 10})
			if a.status == 429 {
				return a, searches
			}
			if a.status != 200 {
				t.Fatalf("search %d: %d %s", i, a.status, a.body)
			}
			searches++
			var resp wire.SearchResponse
			a.decode(t, &resp)
			for _, r := range resp.Results {
				seen[r.ID] = true
			}
		}
		t.Fatalf("600 searches without a refusal; %d distinct records read", len(seen))
		return answer{}, 0
	}
	a, searches := scrape(0)
	var e struct{ Error wire.Error }
	a.decode(t, &e)
	if e.Error.Code != "read_limit" || !strings.Contains(e.Error.Message, "records_per_hour") || a.header.Get("Retry-After") == "" {
		t.Fatalf("refusal: %s (Retry-After %q)", a.body, a.header.Get("Retry-After"))
	}
	if len(seen) > 60 {
		t.Fatalf("the scraper read %d distinct records, over its hourly limit of 60", len(seen))
	}
	t.Logf("refused after %d searches and %d distinct records (limit 60 an hour)", searches, len(seen))
	// Hour after hour it reads on, until the day's limit stops it.
	for hour := 1; ; hour++ {
		if hour > 10 {
			t.Fatalf("10 hours without reaching the daily limit; %d distinct records", len(seen))
		}
		fake.Advance(time.Hour)
		a, _ := scrape(hour * 41 % 600)
		if strings.Contains(string(a.body), "records_per_day") {
			t.Logf("stopped by the daily limit in hour %d", hour+1)
			break
		}
	}
	if len(seen) > 100 {
		t.Fatalf("the scraper read %d distinct records in a day, over its limit of 100", len(seen))
	}
	t.Logf("a day's reading: %d distinct records of 600 (limit 100)", len(seen))
	// An officer's token beside it is not affected, and an admin is never limited.
	if a := tn.json(t, "fr", "POST", "/v1/search", map[string]any{"serial": "SCR0001"}); a.status != 200 {
		t.Fatalf("another token: %d %s", a.status, a.body)
	}
	// Refusals are audited and counted.
	var tail struct {
		Entries []struct {
			Agency  string `json:"agency"`
			Outcome string `json:"outcome"`
		} `json:"entries"`
	}
	tn.json(t, "ops", "GET", "/v1/audit?n=20", nil).decode(t, &tail)
	audited := 0
	for _, en := range tail.Entries {
		if en.Agency == "FR-SCRAPE" && strings.HasPrefix(en.Outcome, "refused: records_per_") {
			audited++
		}
	}
	if audited < 2 {
		t.Errorf("%d refusals of the scraper in the audit log, want 2 or more: %+v", audited, tail.Entries)
	}
	resp, err := tn.scrape()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `fedarms_read_refusals_total{reason="records_per_hour"}`) ||
		!strings.Contains(string(body), `fedarms_read_refusals_total{reason="records_per_day"} 1`) {
		t.Errorf("metrics:\n%s", grepLines(string(body), "fedarms_read_refusals_total"))
	}
}

// TestSearchesLimitPerToken: a token's own limit overrides the node's; -1 lifts a bound.
func TestSearchesLimitPerToken(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-LIM-1", "LIM12345")))
	secret, _, err := tn.Tokens().Issue(auth.Request{Agency: "FR-PAF", Country: "FR", Roles: []string{auth.RoleSearcher},
		Limits: auth.ReadLimits{SearchesPerHour: 3, RecordsPerDay: auth.Unlimited}})
	if err != nil {
		t.Fatal(err)
	}
	tn.tokens["paf"] = secret
	for i := range 4 {
		a := tn.json(t, "paf", "POST", "/v1/search", map[string]any{"serial": "LIM12345"})
		if want := map[bool]int{true: 200, false: 429}[i < 3]; a.status != want {
			t.Fatalf("search %d: %d %s, want %d", i+1, a.status, a.body, want)
		}
		if i == 3 && !strings.Contains(string(a.body), "searches_per_hour") {
			t.Fatalf("refusal does not name the limit: %s", a.body)
		}
	}
	// Reading records by id is reading too.
	if a := tn.json(t, "paf", "GET", "/v1/records/FR-LIM-1", nil); a.status != 429 {
		t.Fatalf("a record read by id past the limit: %d %s", a.status, a.body)
	}
	if _, _, err := tn.Tokens().Issue(auth.Request{Agency: "FR-PAF", Roles: []string{auth.RoleSearcher}, Limits: auth.ReadLimits{RecordsPerHour: -2}}); err == nil {
		t.Fatal("a limit of -2 accepted")
	}
}

// TestQueriesWithTooLittleAreRefused: a lone '*', only unreadable characters, or fewer than three
// read characters without the make carry too little to search on.
func TestQueriesWithTooLittleAreRefused(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-TL-1", "TL12345")))
	for _, q := range []map[string]any{{"serial": "*"}, {"serial": "??-??"}, {"serial": "*", "make": "Glock"}, {"serial": "T1"}, {"serial": "  1 "}} {
		a := tn.json(t, "wco", "POST", "/v1/search", q)
		if a.status != 400 || !strings.Contains(string(a.body), "too little") || !strings.Contains(string(a.body), `"field":"serial"`) {
			t.Errorf("%v: %d %s, want 400 on serial", q, a.status, a.body)
		}
	}
	for _, q := range []map[string]any{{"serial": "TL1"}, {"serial": "T1", "make": "Glock"}, {"serial": "TL1*"}} {
		if a := tn.json(t, "wco", "POST", "/v1/search", q); a.status != 200 {
			t.Errorf("%v: %d %s, want 200", q, a.status, a.body)
		}
	}
}
