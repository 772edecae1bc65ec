package node

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsScrapeParses scrapes /metrics as Prometheus would and checks the families operators'
// dashboards and alert rules (deploy/) rely on, and the naming conventions.
func TestMetricsScrapeParses(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-M1", "MET123")))
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "MET123", "make": "glock"})
	resp, err := tn.scrape()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	for _, name := range []string{
		"fedarms_http_requests_total", "fedarms_http_request_duration_seconds", "fedarms_search_duration_seconds",
		"fedarms_hits_total", "fedarms_notification_delivery_seconds", "fedarms_notifications_pending",
		"fedarms_hits_overdue", "fedarms_import_records_total", "fedarms_shard_applied_index",
		"fedarms_shard_records", "fedarms_shard_last_contact_age_seconds", "fedarms_shard_has_leader",
		"fedarms_shard_stale", "fedarms_members", "fedarms_index_records", "fedarms_shard_lag_entries",
		"fedarms_shard_last_snapshot_index", "fedarms_audit_commits_total", "fedarms_audit_entries_total",
		"fedarms_audit_folds_total", "fedarms_audit_fold_seconds_total",
	} {
		if _, ok := families[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	for name, f := range families {
		if !strings.HasPrefix(name, "fedarms_") {
			continue
		}
		if f.GetType().String() == "COUNTER" && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "id" || l.GetName() == "record" || l.GetName() == "serial" {
					t.Errorf("%s has an unbounded label %s", name, l.GetName())
				}
			}
		}
	}
	// The search's entry was made durable, in a batch of its own or with others.
	commits := families["fedarms_audit_commits_total"].GetMetric()[0].GetCounter().GetValue()
	entries := families["fedarms_audit_entries_total"].GetMetric()[0].GetCounter().GetValue()
	if commits < 1 || entries < commits {
		t.Errorf("fedarms_audit_commits_total = %v, fedarms_audit_entries_total = %v: want at least one commit carrying at least one entry each", commits, entries)
	}
	if got := families["fedarms_hits_total"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("fedarms_hits_total = %v, want 1", got)
	}
}
