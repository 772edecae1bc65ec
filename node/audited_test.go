package node

import (
	"strings"
	"testing"

	"github.com/fedarms/fedarms/node/wire"
)

// TestChangesWaitForTheirAuditEntry: a write, an import and an admin action are acknowledged only
// once their audit entry is durable (issue 17: before, they were acknowledged at once and the entry
// followed, so a crash could leave acknowledged changes without one). With the audit log unable to
// take entries, each answers 503 audit_unavailable, saying the change itself was made; a token
// whose making cannot be audited is withdrawn.
func TestChangesWaitForTheirAuditEntry(t *testing.T) {
	tn := startNode(t, t.TempDir())
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-AUD-1", "AUD10001")); a.status != 201 && a.status != 200 {
		t.Fatalf("a write with the audit log working: %d %s", a.status, a.body)
	}
	// A decision, a trace answer and a close are audited (before, the last two were not at all).
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "AUD10001", "make": "Glock"}).decode(t, &resp)
	if len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
		t.Fatalf("no hit to decide on: %+v", resp)
	}
	hitID := resp.Results[0].NotificationID
	var tr struct {
		ID string `json:"id"`
	}
	tn.json(t, "wco", "POST", "/v1/traces", map[string]any{"record_id": "FR-AUD-1", "last_import_country": "DE"}).decode(t, &tr)
	for _, step := range []struct {
		who, path string
		body      any
	}{
		{"de", "/v1/traces/" + tr.ID + "/answer", map[string]any{"text": "imported 2019 by a DE dealer"}},
		{"wco", "/v1/traces/" + tr.ID + "/close", nil},
	} {
		if a := tn.json(t, step.who, "POST", step.path, step.body); a.status/100 != 2 {
			t.Fatalf("%s: %d %s", step.path, a.status, a.body)
		}
	}
	var tail struct {
		Entries []struct {
			Action string `json:"action"`
		} `json:"entries"`
	}
	tn.json(t, "ops", "GET", "/v1/audit?n=20", nil).decode(t, &tail)
	actions := map[string]bool{}
	for _, e := range tail.Entries {
		actions[e.Action] = true
	}
	for _, want := range []string{"trace.create", "trace.answer", "trace.close"} {
		if !actions[want] {
			t.Errorf("no %s in the audit log: %+v", want, tail.Entries)
		}
	}
	if err := tn.audit.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(what string, a answer) {
		t.Helper()
		if a.status != 503 || !strings.Contains(string(a.body), "audit_unavailable") || !strings.Contains(string(a.body), "was done") {
			t.Errorf("%s with the audit log closed: %d %s, want 503 audit_unavailable", what, a.status, a.body)
		}
	}
	check("a record write", tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-AUD-2", "AUD10002")))
	check("a delete", tn.call(t, "fr", "DELETE", "/v1/records/FR-AUD-1", "", nil))
	check("an import", tn.call(t, "fr", "POST", "/v1/import", "application/x-ndjson", strings.NewReader(jsonLines(frRecord("FR-AUD-3", "AUD10003")))))
	// A decision shares node.db with its entry: it commits with it or not at all.
	if a := tn.json(t, "fr", "POST", "/v1/hits/"+hitID+"/decision", map[string]any{"decision": "confirmed"}); a.status != 503 || !strings.Contains(string(a.body), "was not done") {
		t.Errorf("a decision with the audit log closed: %d %s, want 503 audit_unavailable, not done", a.status, a.body)
	}
	if h, err := tn.hits.Get(hitID); err != nil || h.Decision == "confirmed" {
		t.Errorf("a decision whose entry was not committed is stored: %+v %v", h.Decision, err)
	}
	a := tn.json(t, "admin", "POST", "/v1/tokens", map[string]any{"agency": "FR-AUD", "country": "FR", "roles": []string{"searcher"}})
	check("a token", a)
	for _, tok := range tn.Tokens().List() {
		if tok.Agency == "FR-AUD" && tok.Revoked == nil {
			t.Errorf("a token whose making was not audited still works: %+v", tok)
		}
	}
}
