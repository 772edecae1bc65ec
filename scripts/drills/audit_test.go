//go:build localfed

package drills

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrillAuditSurvivesKills writes records and imports at ncb-fr from four clients while the node
// is SIGKILLed and started again, round after round; afterwards every write the node acknowledged
// has its audit entry on that node (issue 17: before, 3,621 records stored before a crash had no
// entry, because writes were acknowledged before their entry was durable).
func TestDrillAuditSurvivesKills(t *testing.T) {
	rounds := size(t, "LOCALFED_KILLS", 6, 3)
	f := startFed(t, "audit")
	ncb := f.node("ncb-fr")
	tok := ncb.mint(t, "FR-NCB", "FR", "recorder")

	var (
		mu    sync.Mutex
		acked = map[string]bool{} // record ids whose create or import line was acknowledged
		seq   atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c == 3 { // one client imports batches of 50
					var ids []string
					var body []byte
					for range 50 {
						id := fmt.Sprintf("FR-AUD-%06d", seq.Add(1))
						ids = append(ids, id)
						body = fmt.Appendf(body, `{"id":%q,"serial":"AUD%s","make":"Glock","calibre":"9x19","type":"pistol","recording_country":"FR","status":"stolen"}`+"\n", id, id[7:])
					}
					code, _, err := ncb.do("POST", "/v1/import", tok, body, "application/x-ndjson")
					if err == nil && code == 200 {
						mu.Lock()
						for _, id := range ids {
							acked[id] = true
						}
						mu.Unlock()
					}
					continue
				}
				id := fmt.Sprintf("FR-AUD-%06d", seq.Add(1))
				rec := map[string]any{"id": id, "serial": "AUD" + id[7:], "make": "Beretta", "calibre": "9x19", "type": "pistol",
					"recording_country": "FR", "status": "stolen"}
				if _, err := ncb.json("POST", "/v1/records", tok, rec, nil); err == nil {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				} else {
					time.Sleep(50 * time.Millisecond) // the node is down or starting
				}
			}
		}()
	}
	for r := range rounds {
		time.Sleep(time.Duration(1500+r*377%1000) * time.Millisecond)
		f.localfed("kill", "ncb-fr")
		f.localfed("start", "ncb-fr")
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	audited := map[string]bool{}
	cursor := ""
	for {
		var page struct {
			Entries []struct {
				Action    string   `json:"action"`
				Outcome   string   `json:"outcome"`
				ResultIDs []string `json:"result_ids"`
			} `json:"entries"`
			Cursor string `json:"cursor"`
		}
		if _, err := ncb.json("GET", "/v1/audit?limit=1000&cursor="+url.QueryEscape(cursor), ncb.admin, nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if (e.Action == "record.create" || e.Action == "import") && e.Outcome == "ok" {
				for _, id := range e.ResultIDs {
					audited[id] = true
				}
			}
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	var missing []string
	for id := range acked {
		if !audited[id] {
			missing = append(missing, id)
		}
	}
	measure(t, "audit", "acknowledged_writes", float64(len(acked)), "records")
	measure(t, "audit", "acknowledged_without_audit_entry", float64(len(missing)), "records")
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged over %d kills: the drill did not exercise the node", len(acked), rounds)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes have no audit entry after %d kills, e.g. %v", len(missing), len(acked), rounds, missing[:min(5, len(missing))])
	}
	if code, body, err := ncb.do("GET", "/v1/audit/verify", ncb.admin, nil, ""); err != nil || code != 200 {
		t.Fatalf("audit verify after the kills: %d %s %v", code, body, err)
	}
}
