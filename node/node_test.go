package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/wire"
)

// testNode is a one-node federation served by httptest, with tokens for a few principals.
type testNode struct {
	*Node
	srv    *httptest.Server
	tokens map[string]string // name -> secret
}

func startNode(t *testing.T, dir string, mutate ...func(*config.Config)) *testNode {
	t.Helper()
	return startNodeWithClock(t, dir, nil, mutate...)
}

func startNodeWithClock(t *testing.T, dir string, c clock.Clock, mutate ...func(*config.Config)) *testNode {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	for _, m := range mutate {
		m(cfg)
	}
	n, err := Open(cfg, Options{Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, srv: httptest.NewServer(n.Handler()), tokens: map[string]string{}}
	for _, p := range []struct{ name, agency, country, roles string }{
		{"admin", "GS-ADMIN", "", "admin"},
		{"fr", "FR-NCB", "FR", "recorder,searcher"},
		{"de", "DE-NCB", "DE", "recorder,searcher"},
		{"wco", "WCO-I2C", "", "searcher"},
		{"ops", "GS-OPS", "", "operator"},
	} {
		req := auth.Request{Agency: p.agency, Country: p.country, Roles: strings.Split(p.roles, ",")}
		if p.name == "wco" {
			req.OnBehalfOf = []string{"KE-CUSTOMS"} // the customs administrations the I2C serves
		}
		secret, _, err := n.Tokens().Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		tn.tokens[p.name] = secret
	}
	t.Cleanup(func() {
		tn.srv.Close()
		n.Close()
	})
	return tn
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// errorCode returns the error shape's code and field, failing if the body is not the error shape.
func (a answer) errorCode(t *testing.T) (string, string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string } `json:"error"`
	}
	a.decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the error shape: %s", a.body)
	}
	return e.Error.Code, e.Error.Field
}

func (tn *testNode) call(t *testing.T, who, method, path, ctype string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest(method, tn.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+tn.tokens[who])
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, header: resp.Header}
}

func (tn *testNode) json(t *testing.T, who, method, path string, v any) answer {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	return tn.call(t, who, method, path, "application/json", body)
}

func frRecord(id, serial string) record.Record {
	return record.Record{ID: id, Serial: serial, Make: "Glock", Model: "17", Calibre: "9x19",
		Type: "pistol", RecordingCountry: "FR", Status: "stolen"}
}

func jsonLines(recs ...any) string {
	var b strings.Builder
	for _, r := range recs {
		switch v := r.(type) {
		case string:
			b.WriteString(v)
		default:
			j, _ := json.Marshal(v)
			b.Write(j)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (tn *testNode) importLines(t *testing.T, who, body string) wire.ImportResponse {
	t.Helper()
	a := tn.call(t, who, "POST", "/v1/import", "application/x-ndjson", strings.NewReader(body))
	if a.status != 200 {
		t.Fatalf("import: %d %s", a.status, a.body)
	}
	var r wire.ImportResponse
	a.decode(t, &r)
	return r
}

func recordsN(n int, country string) []any {
	out := make([]any, n)
	for i := range out {
		r := frRecord(fmt.Sprintf("%s-%06d", country, i), fmt.Sprintf("GLK%06d", i))
		r.RecordingCountry = country
		out[i] = r
	}
	return out
}
