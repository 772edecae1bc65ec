package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

func TestTraceOnOneNode(t *testing.T) {
	tn := startNode(t, t.TempDir())
	r := frRecord("FR-T1", "TR12345")
	r.CountryOfManufacture = "AT"
	tn.importLines(t, "fr", jsonLines(r))
	var tr notify.Trace
	a := tn.json(t, "wco", "POST", "/v1/traces", map[string]any{"record_id": "FR-T1", "last_import_country": "DE"})
	a.decode(t, &tr)
	if a.status != 201 || tr.Firearm.Make != "Glock" || len(tr.Recipients) != 3 || tr.Status != "open" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "wco", "POST", "/v1/traces", map[string]any{"firearm": map[string]string{"serial": "X"}}); a.status != 400 {
		t.Fatalf("trace without make: %d", a.status)
	}
	if a := tn.json(t, "fr", "POST", "/v1/traces/"+tr.ID+"/answer", map[string]string{"text": "not ours"}); a.status != 403 {
		t.Fatalf("FR answering a trace sent to AT and DE: %d", a.status)
	}
	if a := tn.json(t, "de", "POST", "/v1/traces/"+tr.ID+"/answer", map[string]string{"text": "imported 2011 by Waffen Meier, Munich; sold 2014"}); a.status != 200 {
		t.Fatalf("DE answer: %d %s", a.status, a.body)
	}
	tn.json(t, "wco", "GET", "/v1/traces/"+tr.ID, nil).decode(t, &tr)
	if tr.Status != "answered" || len(tr.Answers) != 1 || tr.Answers[0].Country != "DE" {
		t.Fatalf("after answer %+v", tr)
	}
	if a := tn.json(t, "wco", "POST", "/v1/traces/"+tr.ID+"/close", nil); a.status != 200 {
		t.Fatalf("close: %d %s", a.status, a.body)
	}
	var list struct{ Traces []notify.Trace }
	tn.json(t, "de", "GET", "/v1/traces?status=closed", nil).decode(t, &list)
	if len(list.Traces) != 1 {
		t.Fatalf("DE's list: %+v", list)
	}
}

func TestFederationTraceRoutedAndAnswered(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	edge := fc.nodes["edge-cdg"]
	req := wire.TraceRequest{Firearm: &notify.Firearm{Serial: "AK123", Make: "Izhmash", CountryOfManufacture: "KE"}, LastImportCountry: "FR"}
	// Create through the node's Go API, in-process.
	tr, err := edge.CreateTrace(context.Background(), auth.Principal{Agency: "FR-DOUANE", Country: "FR", Roles: []string{"searcher"}}, req)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "receipts from the GS and both NCBs", func() bool {
		got, err := edge.hits.GetTrace(tr.ID)
		return err == nil && got.Receipts["gs"] != "" && got.Receipts["ncb:KE"] != "" && got.Receipts["ncb:FR"] != ""
	})
	// Kenya answers at its node; the answer reaches the origin and the General Secretariat.
	ke := fc.nodes["ncb-ke"]
	if _, err := ke.AnswerTrace(auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}, tr.ID, "exported 2009 to FR"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "the trace to be answered", func() bool {
		got, err := edge.hits.GetTrace(tr.ID)
		if err != nil || got.Status != notify.TraceAnswered {
			return false
		}
		for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
			if g, err := fc.nodes[name].hits.GetTrace(tr.ID); err == nil && len(g.Answers) == 1 {
				return true
			}
		}
		return false
	})
}

// TestTraceByRecordNeedsReadingRecords: before, POST /v1/traces with a record id returned that
// record's serial, make and model to any token (issue 17). Now naming a record needs the searcher
// role, or the recorder role for its own country's records; anyone else gets 403 whether or not
// the record exists, and may still describe the firearm by hand.
func TestTraceByRecordNeedsReadingRecords(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-LEAK-1", "LEAK-90817")))
	for _, who := range []string{"ops"} {
		for _, id := range []string{"FR-LEAK-1", "FR-NONE"} {
			a := tn.json(t, who, "POST", "/v1/traces", map[string]any{"record_id": id, "last_import_country": "DE"})
			if a.status != 403 || strings.Contains(string(a.body), "LEAK-90817") {
				t.Errorf("%s naming %s: %d %s, want 403 without the record", who, id, a.status, a.body)
			}
		}
	}
	secret, _, err := tn.Tokens().Create("DE-BKA", "DE", []string{"recorder"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tn.tokens["de-rec"] = secret
	for _, id := range []string{"FR-LEAK-1", "FR-NONE"} {
		if a := tn.json(t, "de-rec", "POST", "/v1/traces", map[string]any{"record_id": id, "last_import_country": "DE"}); a.status != 403 || strings.Contains(string(a.body), "LEAK-90817") {
			t.Errorf("a DE recorder naming %s: %d %s, want 403", id, a.status, a.body)
		}
	}
	frRec, _, err := tn.Tokens().Create("FR-OCRVP", "FR", []string{"recorder"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tn.tokens["fr-rec"] = frRec
	if a := tn.json(t, "fr-rec", "POST", "/v1/traces", map[string]any{"record_id": "FR-LEAK-1", "last_import_country": "DE"}); a.status/100 != 2 {
		t.Errorf("an FR recorder naming its own record: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "ops", "POST", "/v1/traces", map[string]any{"firearm": map[string]any{"serial": "LEAK-90817", "make": "Glock"}, "last_import_country": "DE"}); a.status/100 != 2 {
		t.Errorf("a firearm described by hand: %d %s", a.status, a.body)
	}
}
