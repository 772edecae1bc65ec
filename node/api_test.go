package node

import (
	"strings"
	"testing"

	"github.com/fedarms/fedarms/node/wire"
)

func TestImportKeepsGoodLinesAndReportsBadOnes(t *testing.T) {
	tn := startNode(t, t.TempDir())
	good := frRecord("FR-1", "ABC123")
	missingMake := frRecord("FR-2", "X1")
	missingMake.Make = ""
	badCountry := frRecord("FR-3", "X2")
	badCountry.RecordingCountry = "XX"
	german := frRecord("DE-1", "X3")
	german.RecordingCountry = "DE"
	body := jsonLines(good, `{"id": "FR-4", "serial": `, missingMake, badCountry, `{"id":"FR-5","colour":"red"}`, german, frRecord("FR-6", "DEF456"))
	r := tn.importLines(t, "fr", body)
	if r.Accepted != 2 {
		t.Fatalf("accepted %d, want 2: %+v", r.Accepted, r)
	}
	want := map[int]string{2: "malformed", 3: "make", 4: "recording_country", 5: "colour", 6: "forbidden"}
	if len(r.Rejected) != len(want) {
		t.Fatalf("rejected %+v", r.Rejected)
	}
	for _, rj := range r.Rejected {
		if !strings.Contains(rj.Error, want[rj.Line]) {
			t.Errorf("line %d: %q does not mention %q", rj.Line, rj.Error, want[rj.Line])
		}
	}
	if a := tn.json(t, "fr", "GET", "/v1/records/FR-6", nil); a.status != 200 {
		t.Fatalf("good line after bad ones not stored: %d %s", a.status, a.body)
	}
}

func TestImportEachRequiredFieldMissing(t *testing.T) {
	tn := startNode(t, t.TempDir())
	fields := []string{"id", "serial", "make", "calibre", "type", "recording_country", "status"}
	var lines []any
	for _, f := range fields {
		r := frRecord("FR-"+f, "S-"+f)
		switch f {
		case "id":
			r.ID = ""
		case "serial":
			r.Serial = ""
		case "make":
			r.Make = ""
		case "calibre":
			r.Calibre = ""
		case "type":
			r.Type = ""
		case "recording_country":
			r.RecordingCountry = ""
		case "status":
			r.Status = ""
		}
		lines = append(lines, r)
	}
	r := tn.importLines(t, "admin", jsonLines(lines...))
	if r.Accepted != 0 || len(r.Rejected) != len(fields) {
		t.Fatalf("%+v", r)
	}
	for i, rj := range r.Rejected {
		if rj.Line != i+1 || !strings.HasPrefix(rj.Error, fields[i]+": is required") {
			t.Errorf("line %d: %q, want %s required", rj.Line, rj.Error, fields[i])
		}
	}
}

func TestImportCSV(t *testing.T) {
	tn := startNode(t, t.TempDir())
	body := "id,serial,other_serials,make,calibre,type,recording_country,status\n" +
		"FR-10,AB 123,SL1|BR2,Beretta,9mm,pistol,FR,stolen\n" +
		"FR-11,,,,9mm,pistol,FR,stolen\n" +
		"FR-12,ZZ9,,Colt,.45,pistol,fr,lost\n"
	a := tn.call(t, "fr", "POST", "/v1/import", "text/csv", strings.NewReader(body))
	var r wire.ImportResponse
	a.decode(t, &r)
	if a.status != 200 || r.Accepted != 2 || len(r.Rejected) != 1 || r.Rejected[0].Line != 3 {
		t.Fatalf("%d %+v", a.status, r)
	}
	var rec struct {
		OtherSerials []string `json:"other_serials"`
	}
	tn.json(t, "fr", "GET", "/v1/records/FR-10", nil).decode(t, &rec)
	if len(rec.OtherSerials) != 2 {
		t.Fatalf("other_serials %v", rec.OtherSerials)
	}
	a = tn.call(t, "fr", "POST", "/v1/import", "text/csv", strings.NewReader("id,serial,colour\n"))
	if code, field := a.errorCode(t); a.status != 400 || field != "colour" {
		t.Fatalf("unknown column: %d %s %s", a.status, code, field)
	}
}

func TestAuth(t *testing.T) {
	tn := startNode(t, t.TempDir())
	q := map[string]any{"serial": "X123"}
	if a := tn.json(t, "", "POST", "/v1/search", q); a.status != 401 {
		t.Fatalf("no token: %d", a.status)
	}
	tn.tokens["bogus"] = "fa_000000000000_" + strings.Repeat("A", 43)
	if a := tn.json(t, "bogus", "POST", "/v1/search", q); a.status != 401 {
		t.Fatalf("bad token: %d", a.status)
	}
	if a := tn.json(t, "wco", "POST", "/v1/search", q); a.status != 200 {
		t.Fatalf("good token: %d %s", a.status, a.body)
	}
	id := strings.Split(tn.tokens["wco"], "_")[1]
	if a := tn.json(t, "admin", "DELETE", "/v1/tokens/"+id, nil); a.status != 204 {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	a := tn.json(t, "wco", "POST", "/v1/search", q)
	if code, _ := a.errorCode(t); a.status != 401 || !strings.Contains(string(a.body), "revoked") {
		t.Fatalf("revoked token: %d %s %s", a.status, code, a.body)
	}
	// Roles: a searcher cannot import, an operator cannot search.
	if a := tn.call(t, "ops", "POST", "/v1/search", "application/json", strings.NewReader(`{"serial":"x"}`)); a.status != 403 {
		t.Fatalf("operator searching: %d", a.status)
	}
	if a := tn.json(t, "ops", "GET", "/v1/health", nil); a.status != 200 {
		t.Fatalf("health: %d", a.status)
	}
}

func TestRecorderCannotChangeAnotherCountrysRecord(t *testing.T) {
	tn := startNode(t, t.TempDir())
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-100", "AAA111")); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	changed := frRecord("FR-100", "BBB222")
	if a := tn.json(t, "de", "PUT", "/v1/records/FR-100", changed); a.status != 403 {
		t.Fatalf("DE updating FR record: %d %s", a.status, a.body)
	}
	changed.RecordingCountry = "DE"
	if a := tn.json(t, "de", "PUT", "/v1/records/FR-100", changed); a.status != 403 {
		t.Fatalf("DE claiming FR record: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "de", "DELETE", "/v1/records/FR-100", nil); a.status != 403 {
		t.Fatalf("DE deleting FR record: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "de", "POST", "/v1/records", frRecord("FR-101", "CCC")); a.status != 403 {
		t.Fatalf("DE creating FR record: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-100", "AAA111")); a.status != 409 {
		t.Fatalf("duplicate create: %d %s", a.status, a.body)
	}
	var got struct{ Serial string }
	tn.json(t, "fr", "GET", "/v1/records/FR-100", nil).decode(t, &got)
	if got.Serial != "AAA111" {
		t.Fatalf("record changed to %q", got.Serial)
	}
	if a := tn.json(t, "fr", "DELETE", "/v1/records/FR-100", nil); a.status != 204 {
		t.Fatalf("owner delete: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "fr", "GET", "/v1/records/FR-100", nil); a.status != 404 {
		t.Fatalf("after delete: %d", a.status)
	}
}

func TestBodyLimitAndStrictJSON(t *testing.T) {
	tn := startNode(t, t.TempDir())
	big := `{"serial": "` + strings.Repeat("A", 2<<20) + `"}`
	a := tn.call(t, "wco", "POST", "/v1/search", "application/json", strings.NewReader(big))
	if code, _ := a.errorCode(t); a.status != 413 || code != "too_large" {
		t.Fatalf("oversized body: %d %s", a.status, a.body)
	}
	a = tn.call(t, "wco", "POST", "/v1/search", "application/json", strings.NewReader(`{"serial":"x","colour":"red"}`))
	if _, field := a.errorCode(t); a.status != 400 || field != "colour" {
		t.Fatalf("unknown field: %d %s", a.status, a.body)
	}
	a = tn.call(t, "wco", "POST", "/v1/search", "application/json", strings.NewReader(`{"serial":""}`))
	if _, field := a.errorCode(t); a.status != 400 || field != "serial" {
		t.Fatalf("empty serial: %d %s", a.status, a.body)
	}
	a = tn.call(t, "wco", "GET", "/v1/nothing", "", nil)
	if code, _ := a.errorCode(t); a.status != 404 || code != "not_found" {
		t.Fatalf("unknown endpoint: %d %s", a.status, a.body)
	}
}

func TestSearchExactWithCoverageAndAudit(t *testing.T) {
	tn := startNode(t, t.TempDir())
	r := frRecord("FR-2019-004512", "ABC-00123")
	r.OtherSerials = []string{"SLIDE777"}
	tn.importLines(t, "fr", jsonLines(r, frRecord("FR-2", "ABC-00124")))
	var resp wire.SearchResponse
	a := tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "abc 00123", "on_behalf_of": "KE-CUSTOMS"})
	a.decode(t, &resp)
	if a.status != 200 || len(resp.Results) == 0 || resp.Results[0].ID != "FR-2019-004512" {
		t.Fatalf("search: %d %s", a.status, a.body)
	}
	top := resp.Results[0]
	if top.Score <= 0 || top.Score > 1 || top.Record.Serial != "ABC-00123" || top.Why.Serial == "" {
		t.Fatalf("top result %+v", top)
	}
	if top.Hit && top.NotificationID == "" {
		t.Fatal("hit without notification")
	}
	if !resp.Coverage.Complete || len(resp.Coverage.Shards) != 5 {
		t.Fatalf("coverage %+v", resp.Coverage)
	}
	for _, s := range resp.Coverage.Shards {
		if s.Source != "local" || s.Stale || (s.Shard == "europe" && s.AppliedIndex == 0) {
			t.Fatalf("shard coverage %+v", s)
		}
	}
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "slide-777"}).decode(t, &resp)
	if len(resp.Results) == 0 || resp.Results[0].ID != "FR-2019-004512" {
		t.Fatalf("other_serials search: %+v", resp.Results)
	}
	var tail struct {
		Entries []struct {
			Action     string
			OnBehalfOf string   `json:"on_behalf_of"`
			ResultIDs  []string `json:"result_ids"`
		} `json:"entries"`
	}
	tn.json(t, "ops", "GET", "/v1/audit?n=10", nil).decode(t, &tail)
	found := false
	for _, e := range tail.Entries {
		if e.OnBehalfOf == "KE-CUSTOMS" && len(e.ResultIDs) > 0 && e.ResultIDs[0] == "FR-2019-004512" {
			found = true
		}
	}
	if !found {
		t.Fatalf("search on behalf of KE-CUSTOMS not audited: %+v", tail)
	}
	var ver struct{ OK bool }
	tn.json(t, "ops", "GET", "/v1/audit/verify", nil).decode(t, &ver)
	if !ver.OK {
		t.Fatal("audit chain not intact")
	}
}

func TestShardsReportDigests(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "admin", jsonLines(append(recordsN(100, "FR"), recordsN(50, "KE")...)...))
	var out struct{ Shards []wire.ShardStatus }
	tn.json(t, "ops", "GET", "/v1/shards", nil).decode(t, &out)
	got := map[string]wire.ShardStatus{}
	for _, s := range out.Shards {
		got[s.Shard] = s
	}
	if got["europe"].Records != 100 || got["africa"].Records != 50 || got["europe"].Role != "voter" || got["europe"].Leader == "" {
		t.Fatalf("shards %+v", out.Shards)
	}
	// The same records give the same digest on another node, whatever the order of writes.
	other := startNode(t, t.TempDir())
	recs := recordsN(100, "FR")
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	other.importLines(t, "admin", jsonLines(recs[:50]...))
	other.importLines(t, "admin", jsonLines(recs[50:]...))
	var out2 struct{ Shards []wire.ShardStatus }
	other.json(t, "ops", "GET", "/v1/shards", nil).decode(t, &out2)
	for _, s := range out2.Shards {
		if s.Shard == "europe" && s.Digest != got["europe"].Digest {
			t.Fatalf("digest differs: %s vs %s", s.Digest, got["europe"].Digest)
		}
	}
}

func TestImportToleratesBOMAndCRLF(t *testing.T) {
	tn := startNode(t, t.TempDir())
	body := "\ufeff" + strings.ReplaceAll(jsonLines(frRecord("FR-b1", "B1"), frRecord("FR-b2", "B2")), "\n", "\r\n")
	r := tn.importLines(t, "fr", body)
	if r.Accepted != 2 || len(r.Rejected) != 0 {
		t.Fatalf("%+v", r)
	}
	long := `{"id":"FR-long","serial":"` + strings.Repeat("9", 70<<10) + `"}`
	r = tn.importLines(t, "fr", jsonLines(frRecord("FR-b3", "B3"), long, frRecord("FR-b4", "B4")))
	if r.Accepted != 2 || len(r.Rejected) != 1 || r.Rejected[0].Line != 2 {
		t.Fatalf("long line: %+v", r)
	}
}
