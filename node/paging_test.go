package node

import (
	"fmt"
	"testing"

	"github.com/fedarms/fedarms/node/wire"
)

func TestHitsPageThroughWithCursor(t *testing.T) {
	tn := startNode(t, t.TempDir())
	var recs []any
	for i := range 5 {
		recs = append(recs, frRecord(fmt.Sprintf("FR-%d", i), fmt.Sprintf("PAGE%05d", 31000+i*7)))
	}
	tn.importLines(t, "fr", jsonLines(recs...))
	for i := range 5 {
		var resp wire.SearchResponse
		tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": fmt.Sprintf("PAGE%05d", 31000+i*7)}).decode(t, &resp)
		if len(resp.Results) == 0 || !resp.Results[0].Hit {
			t.Fatalf("search %d made no hit: %+v", i, resp.Results)
		}
	}
	var seen []string
	cursor := ""
	for page := 0; page < 10; page++ {
		var p wire.HitPage
		a := tn.json(t, "admin", "GET", "/v1/hits?limit=2&cursor="+cursor, nil)
		a.decode(t, &p)
		if a.status != 200 || len(p.Hits) > 2 {
			t.Fatalf("page %d: %d %s", page, a.status, a.body)
		}
		for _, h := range p.Hits {
			seen = append(seen, h.RecordID)
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	want := []string{"FR-4", "FR-3", "FR-2", "FR-1", "FR-0"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("paged %v, want %v (newest first, each once)", seen, want)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=bogus!"} {
		a := tn.json(t, "admin", "GET", "/v1/hits?"+q, nil)
		if code, field := a.errorCode(t); a.status != 400 || code != "invalid_field" || (field != "limit" && field != "cursor") {
			t.Fatalf("%s: %d %s", q, a.status, a.body)
		}
	}
	// Without limit, a page of wire.DefaultPage.
	var p wire.HitPage
	tn.json(t, "admin", "GET", "/v1/hits", nil).decode(t, &p)
	if len(p.Hits) != 5 || p.Cursor != "" {
		t.Fatalf("default page: %d hits, cursor %q", len(p.Hits), p.Cursor)
	}
}
