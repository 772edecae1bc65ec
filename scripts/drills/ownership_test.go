//go:build localfed

package drills

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDrillOwnership (drill d): the NCB of Kenya, holding a valid recorder token on every node,
// cannot create, change or delete a French record through any node's API: each attempt is refused
// with 403 and the record stays as France wrote it on every holder. The same token can write a
// Kenyan record, and France can change its own, so the refusals are about ownership, not a broken
// token or path.
func TestDrillOwnership(t *testing.T) {
	f := startFed(t, "d")
	ncbFR := f.node("ncb-fr")
	fr := ncbFR.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	rec := probeRecord("FR", "OWN", 1)
	if _, err := ncbFR.json(http.MethodPost, "/v1/records", fr, rec, nil); err != nil {
		t.Fatal(err)
	}
	f.waitConverged(t, time.Minute)

	type attempt struct {
		what   string
		method string
		path   string
		body   []byte
		ctype  string
	}
	changed := rec
	changed.Serial = "STOLEN-BY-KE"
	upd, _ := json.Marshal(changed)
	newFR := probeRecord("FR", "OWN", 2)
	create, _ := json.Marshal(newFR)
	attempts := []attempt{
		{"update", http.MethodPut, "/v1/records/" + rec.ID, upd, ""},
		{"delete", http.MethodDelete, "/v1/records/" + rec.ID, nil, ""},
		{"create", http.MethodPost, "/v1/records", create, ""},
		{"import", http.MethodPost, "/v1/import", append(upd, '\n'), "application/x-ndjson"},
	}
	refused := 0
	var table []string
	for _, name := range f.order {
		n := f.node(name)
		ke := n.mint(t, "KE-NCB", "KE", "recorder", "searcher")
		row := []string{name}
		for _, a := range attempts {
			code, b, err := n.do(a.method, a.path, ke, a.body, a.ctype)
			if err != nil {
				t.Errorf("%s of a FR record by KE at %s: %v", a.what, name, err)
				continue
			}
			ok := code == http.StatusForbidden
			if a.what == "import" {
				// An import answers 200 and lists each refused line.
				var res struct {
					Accepted int `json:"accepted"`
					Rejected []struct {
						Error string `json:"error"`
					} `json:"rejected"`
				}
				ok = code == 200 && json.Unmarshal(b, &res) == nil && res.Accepted == 0 && len(res.Rejected) == 1 &&
					strings.Contains(res.Rejected[0].Error, "KE")
			}
			row = append(row, fmt.Sprintf("%s=%d", a.what, code))
			if !ok {
				t.Errorf("%s of a FR record by KE at %s: %d %s, want 403", a.what, name, code, strings.TrimSpace(string(b)))
				continue
			}
			refused++
		}
		table = append(table, strings.Join(row, " "))
	}
	t.Logf("KE's attempts on a FR record, by node:\n  %s", strings.Join(table, "\n  "))
	measure(t, "d", "refusals", float64(refused), "attempts")
	measure(t, "d", "attempts", float64(len(f.order)*len(attempts)), "attempts")

	// Controls: the KE token writes KE records, France changes its own record.
	ncbKE := f.node("ncb-ke")
	ke := ncbKE.mint(t, "KE-NCB", "KE", "recorder")
	if code, b, _ := ncbKE.do(http.MethodPost, "/v1/records", ke, mustJSON(probeRecord("KE", "OWN", 1)), ""); code != http.StatusCreated {
		t.Errorf("KE creating its own record at ncb-ke: %d %s", code, b)
	}
	mine := rec
	mine.Remarks = "reviewed by FR"
	if _, err := ncbFR.json(http.MethodPut, "/v1/records/"+rec.ID, fr, mine, nil); err != nil {
		t.Errorf("FR updating its own record: %v", err)
	}
	f.waitConverged(t, time.Minute)
	for _, h := range f.holders("europe") {
		var got struct {
			Serial  string `json:"serial"`
			Remarks string `json:"remarks"`
		}
		if _, err := h.json(http.MethodGet, "/v1/records/"+rec.ID, h.admin, nil, &got); err != nil {
			t.Errorf("the FR record at %s: %v", h.name, err)
			continue
		}
		if got.Serial != rec.Serial || got.Remarks != mine.Remarks {
			t.Errorf("the FR record at %s is %+v, want serial %s as FR wrote it", h.name, got, rec.Serial)
		}
		if code, _, _ := h.do(http.MethodGet, "/v1/records/"+newFR.ID, h.admin, nil, ""); code != http.StatusNotFound {
			t.Errorf("the FR record KE tried to create exists at %s (%d)", h.name, code)
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
