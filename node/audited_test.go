package node

import (
	"strings"
	"testing"
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
	a := tn.json(t, "admin", "POST", "/v1/tokens", map[string]any{"agency": "FR-AUD", "country": "FR", "roles": []string{"searcher"}})
	check("a token", a)
	for _, tok := range tn.Tokens().List() {
		if tok.Agency == "FR-AUD" && tok.Revoked == nil {
			t.Errorf("a token whose making was not audited still works: %+v", tok)
		}
	}
}
