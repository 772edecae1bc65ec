package node

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node/wire"
)

// batchOut is any line of a screening's answer.
type batchOut struct {
	Line     int                 `json:"line"`
	SearchID string              `json:"search_id"`
	Results  []wire.SearchResult `json:"results"`
	Error    *struct{ Code, Message, Field string }
	Done     bool `json:"done"`
	Batch    string
	Count    int
	Hits     int
	Errors   int
	Coverage wire.Coverage
}

func readBatchAnswer(t *testing.T, body []byte) (lines []batchOut, done batchOut) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o batchOut
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("answer line %q: %v", sc.Text(), err)
		}
		if o.Done {
			done = o
			continue
		}
		if done.Done {
			t.Fatalf("line after the done line: %s", sc.Text())
		}
		lines = append(lines, o)
	}
	if !done.Done {
		t.Fatalf("no done line in:\n%s", body)
	}
	return lines, done
}

func TestSearchBatchAnswersEveryLineInOrder(t *testing.T) {
	tn := startNode(t, t.TempDir())
	var recs []any
	for i := range 200 {
		recs = append(recs, frRecord(fmt.Sprintf("FR-%03d", i), fmt.Sprintf("QZX%05d", 7000+i*37)))
	}
	tn.importLines(t, "fr", jsonLines(recs...))

	var body strings.Builder
	type want struct {
		line  int
		code  string // "" for a search
		exact string // the record an exact serial names
		req   map[string]any
	}
	var wants []want
	line := 0
	add := func(raw string, w want) {
		line++
		body.WriteString(raw + "\n")
		if raw == "" {
			return
		}
		w.line = line
		wants = append(wants, w)
	}
	for i := range 300 {
		switch {
		case i%50 == 7:
			add(`{"serial": "QZX`, want{code: "invalid_json"})
		case i%50 == 13:
			add(`{"make": "Glock"}`, want{code: "invalid_field"})
		case i%50 == 21:
			add(`{"serial": "X1", "colour": "black"}`, want{code: "invalid_field"})
		case i%50 == 33:
			add("", want{})
		case i%10 == 0:
			req := map[string]any{"serial": fmt.Sprintf("qzx %05d", 7000+(i/10)*37), "make": "Glock"}
			b, _ := json.Marshal(req)
			add(string(b), want{exact: fmt.Sprintf("FR-%03d", i/10), req: req})
		default:
			req := map[string]any{"serial": fmt.Sprintf("NOPE%06d", i*7919)}
			b, _ := json.Marshal(req)
			add(string(b), want{req: req})
		}
	}
	add(`{"serial": "`+strings.Repeat("9", maxLine)+`"}`, want{code: "invalid_json"})

	a := tn.call(t, "wco", "POST", "/v1/search/batch", "application/x-ndjson", strings.NewReader(body.String()))
	if a.status != 200 || a.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("batch: %d %s %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	lines, done := readBatchAnswer(t, a.body)
	if len(lines) != len(wants) {
		t.Fatalf("%d answer lines for %d request lines", len(lines), len(wants))
	}
	hits, errs := 0, 0
	for i, w := range wants {
		got := lines[i]
		if got.Line != w.line {
			t.Fatalf("answer %d is for line %d, want line %d (order lost)", i, got.Line, w.line)
		}
		if w.code != "" {
			errs++
			if got.Error == nil || got.Error.Code != w.code || got.Results != nil {
				t.Fatalf("line %d: want error %s, got %+v", w.line, w.code, got)
			}
			continue
		}
		if got.Error != nil || got.SearchID == "" {
			t.Fatalf("line %d: %+v", w.line, got)
		}
		if w.exact != "" {
			if len(got.Results) == 0 || got.Results[0].ID != w.exact || !got.Results[0].Hit || got.Results[0].NotificationID == "" {
				t.Fatalf("line %d: want a HIT on %s, got %+v", w.line, w.exact, got.Results)
			}
			hits++
		}
		if i%17 == 0 { // the same answer as a single search
			var one wire.SearchResponse
			tn.json(t, "wco", "POST", "/v1/search", w.req).decode(t, &one)
			if len(one.Results) != len(got.Results) {
				t.Fatalf("line %d: %d results in the screening, %d alone", w.line, len(got.Results), len(one.Results))
			}
			for k := range one.Results {
				if one.Results[k].ID != got.Results[k].ID || one.Results[k].Score != got.Results[k].Score {
					t.Fatalf("line %d result %d: %s %.3f screened, %s %.3f alone", w.line, k,
						got.Results[k].ID, got.Results[k].Score, one.Results[k].ID, one.Results[k].Score)
				}
			}
		}
	}
	if done.Count != len(wants) || done.Hits != hits || done.Errors != errs || !done.Coverage.Complete || done.Batch == "" {
		t.Fatalf("done line %+v, want count %d hits %d errors %d", done, len(wants), hits, errs)
	}

	// Every searched line is audited, naming the screening; every HIT is in the inbox.
	entries, err := tn.audit.Tail(1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range entries {
		var q auditedSearch
		if e.Action == "search" && json.Unmarshal(e.Query, &q) == nil && q.Batch == done.Batch {
			audited++
		}
	}
	if audited != len(wants)-errs {
		t.Fatalf("%d audit entries name the screening, want %d", audited, len(wants)-errs)
	}
	var list struct {
		Hits []struct{ ID string } `json:"hits"`
	}
	tn.json(t, "admin", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) < hits {
		t.Fatalf("%d hits listed after a screening with %d", len(list.Hits), hits)
	}
}

// TestSearchBatchStreams sends the second line only after the first line's answer has arrived:
// the answer streams while the request is still being written.
func TestSearchBatchStreams(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-1", "STREAM0001")))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/search/batch", pr)
	req.Header.Set("Authorization", "Bearer "+tn.tokens["wco"])
	req.Header.Set("Content-Type", "application/x-ndjson")
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		got <- result{resp, err}
	}()
	if _, err := io.WriteString(pw, `{"serial":"STREAM0001"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no answer headers while the body is still open")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.resp.Body.Close()
	br := bufio.NewReader(r.resp.Body)
	first, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var o batchOut
	if json.Unmarshal(first, &o) != nil || o.Line != 1 || len(o.Results) == 0 || o.Results[0].ID != "FR-1" {
		t.Fatalf("first line %s", first)
	}
	io.WriteString(pw, `{"serial":"NOTHERE99"}`+"\n")
	pw.Close()
	rest, _ := io.ReadAll(br)
	lines, done := readBatchAnswer(t, rest)
	if len(lines) != 1 || lines[0].Line != 2 || done.Count != 2 || done.Hits != 1 {
		t.Fatalf("rest %s", rest)
	}
}

func TestSearchBatchRefusals(t *testing.T) {
	tn := startNode(t, t.TempDir())
	if a := tn.call(t, "ops", "POST", "/v1/search/batch", "application/x-ndjson", strings.NewReader(`{"serial":"A1"}`)); a.status != 403 {
		t.Fatalf("an operator token screens: %d %s", a.status, a.body)
	}
	a := tn.call(t, "wco", "POST", "/v1/search/batch", "text/csv", strings.NewReader("serial\nA1\n"))
	if code, _ := a.errorCode(t); a.status != 415 || code != "unsupported_media_type" {
		t.Fatalf("csv body: %d %s", a.status, a.body)
	}
	// An empty body is a screening of nothing.
	a = tn.call(t, "wco", "POST", "/v1/search/batch", "application/x-ndjson", strings.NewReader(""))
	if lines, done := readBatchAnswer(t, a.body); len(lines) != 0 || done.Count != 0 {
		t.Fatalf("empty screening: %s", a.body)
	}
}

// A screened line with a HIT is answered only once its audit entry and the hit's notification are
// durable, also when the entries of a chunk go to the audit log as one group: while node.db's write
// lock is held (the commit that carries them cannot happen) the line before it, without a hit and
// with audit.durability async, is answered, the HIT line is not, and nothing is in the inbox; once
// the lock is released the answer comes, with the hit listed.
func TestSearchBatchHitWaitsForItsAuditEntry(t *testing.T) {
	tn := startNode(t, t.TempDir(), func(c *config.Config) { c.Audit.Durability = "async" })
	tn.importLines(t, "fr", jsonLines(frRecord("FR-1", "HOLD00123")))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/search/batch", pr)
	req.Header.Set("Authorization", "Bearer "+tn.tokens["wco"])
	req.Header.Set("Content-Type", "application/x-ndjson")
	tx, err := tn.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			tx.Rollback()
		}
	}
	defer release()
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- resp
	}()
	io.WriteString(pw, `{"serial":"NOTHERE99"}`+"\n")
	resp, ok := <-got
	if !ok {
		t.FailNow()
	}
	defer resp.Body.Close()
	lines := make(chan []byte, 4)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			b, err := br.ReadBytes('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- b
		}
	}()
	next := func(within time.Duration) []byte {
		select {
		case b := <-lines:
			return b
		case <-time.After(within):
			return nil
		}
	}
	if b := next(30 * time.Second); b == nil || !strings.Contains(string(b), `"line":1,`) {
		t.Fatalf("the line without a hit was not answered while the audit commit waits: %q", b)
	}
	io.WriteString(pw, `{"serial":"HOLD00123","make":"Glock"}`+"\n")
	if b := next(500 * time.Millisecond); b != nil {
		t.Fatalf("a HIT's answer left before its audit entry was durable: %s", b)
	}
	release()
	b := next(30 * time.Second)
	var o batchOut
	if json.Unmarshal(b, &o) != nil || o.Line != 2 || len(o.Results) == 0 || !o.Results[0].Hit {
		t.Fatalf("after the commit: %q", b)
	}
	var list struct {
		Hits []struct{ ID string } `json:"hits"`
	}
	tn.json(t, "admin", "GET", "/v1/hits", nil).decode(t, &list)
	if len(list.Hits) != 1 {
		t.Fatalf("%d hits listed once the HIT was answered", len(list.Hits))
	}
	pw.Close()
}

// TestLineUnits: a line weighs a unit, one more a KiB, and more when it may set a limit (in any
// case, or with an escape that could spell the key).
func TestLineUnits(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{
		{`{"serial":"FR123","make":"Beretta"}`, 1},
		{`{"serial":"FR123","limit":100}`, 1 + batchLimitUnits},
		{`{"serial":"FR123","LIMIT":100}`, 1 + batchLimitUnits},
		{`{"serial":"FR123","\u006cimit":100}`, 1 + batchLimitUnits},
		{`{"serial":"` + strings.Repeat("9", 3000) + `"}`, 3}, // 3,013 bytes
	} {
		raw := []byte("xx" + tc.line)
		if got := lineUnits(raw, batchLine{start: 2, end: len(raw)}); got != tc.want {
			t.Errorf("%.40s: %d units, want %d", tc.line, got, tc.want)
		}
	}
}

// TestSearchBatchHeavyLinesPastTheWindow: lines that weigh many units (a limit, bytes) and
// together weigh several windows are all answered, in order: the window's units are given back.
func TestSearchBatchHeavyLinesPastTheWindow(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-001", "QZX07000")))
	var body strings.Builder
	units := 0
	n := 0
	for i := 0; units < 3*batchWindow; i++ {
		var l string
		if i%5 == 4 {
			l = `{"serial": "QZX0` + fmt.Sprint(7000+i) + `"` + strings.Repeat(" ", 20<<10) + `}`
		} else {
			l = `{"serial": "QZX0` + fmt.Sprint(7000+i) + `", "limit": 100}`
		}
		body.WriteString(l + "\n")
		units += lineUnits([]byte(l), batchLine{end: len(l)})
		n++
	}
	a := tn.call(t, "wco", "POST", "/v1/search/batch", "application/x-ndjson", strings.NewReader(body.String()))
	if a.status != 200 {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	lines, done := readBatchAnswer(t, a.body)
	if len(lines) != n || done.Count != n || done.Errors != 0 {
		t.Fatalf("%d answers, done %+v, for %d lines", len(lines), done, n)
	}
	for i, l := range lines {
		if l.Line != i+1 || l.Error != nil {
			t.Fatalf("answer %d: %+v", i, l)
		}
	}
}
