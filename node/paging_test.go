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

func TestAuditAndTracesPage(t *testing.T) {
	tn := startNode(t, t.TempDir())
	for i := range 7 {
		tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": fmt.Sprintf("NOPE%04d", i)})
	}
	var seqs []uint64
	cursor := ""
	for range 20 {
		var p struct {
			Entries []struct{ Seq uint64 }
			Cursor  string
		}
		tn.json(t, "ops", "GET", "/v1/audit?limit=3&cursor="+cursor, nil).decode(t, &p)
		for _, e := range p.Entries {
			seqs = append(seqs, e.Seq)
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	if len(seqs) < 7 {
		t.Fatalf("paged %d audit entries, want at least the 7 searches", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]-1 {
			t.Fatalf("audit pages %v: want every sequence number once, newest first", seqs)
		}
	}
	if seqs[len(seqs)-1] != 1 {
		t.Fatalf("audit pages end at %d, want 1", seqs[len(seqs)-1])
	}
	for _, q := range []string{"limit=0", "cursor=zz"} {
		if a := tn.json(t, "ops", "GET", "/v1/audit?"+q, nil); a.status != 400 {
			t.Fatalf("audit %s: %d %s", q, a.status, a.body)
		}
	}
	var tr struct{ Cursor string }
	if a := tn.json(t, "admin", "GET", "/v1/traces?limit=5", nil); a.status != 200 {
		t.Fatalf("traces: %d %s", a.status, a.body)
	} else if a.decode(t, &tr); tr.Cursor != "" {
		t.Fatalf("traces of an empty node: cursor %q", tr.Cursor)
	}
}

func TestTracesPageThroughWithCursor(t *testing.T) {
	tn := startNode(t, t.TempDir())
	for i := range 5 {
		a := tn.json(t, "admin", "POST", "/v1/traces", map[string]any{"firearm": map[string]any{"serial": fmt.Sprintf("TR%03d", i), "make": "Glock", "country_of_manufacture": "AT"}, "last_import_country": "FR"})
		if a.status != 201 {
			t.Skipf("a one-node federation makes no trace here: %d %s", a.status, a.body)
		}
	}
	var ids []string
	cursor := ""
	for range 10 {
		var p struct {
			Traces []struct{ ID string }
			Cursor string
		}
		tn.json(t, "admin", "GET", "/v1/traces?limit=2&cursor="+cursor, nil).decode(t, &p)
		for _, tr := range p.Traces {
			ids = append(ids, tr.ID)
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(ids) != 5 || len(seen) != 5 {
		t.Fatalf("paged traces %v: want 5, each once", ids)
	}
}
