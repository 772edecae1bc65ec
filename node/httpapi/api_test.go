package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// fakeNode is a Backend whose answers a test sets: tokens by secret, and the error every call
// returns (nil for the happy answers below).
type fakeNode struct {
	tokens map[string]auth.Principal
	err    error
	feed   chan wire.Hit
	got    any // the last request a call received
}

var errNoToken = errors.New("unknown token")

func (f *fakeNode) Authenticate(secret string) (auth.Principal, error) {
	if secret == "revoked" {
		return auth.Principal{}, auth.ErrRevoked
	}
	p, ok := f.tokens[secret]
	if !ok {
		return auth.Principal{}, errNoToken
	}
	return p, nil
}

func (f *fakeNode) Search(_ context.Context, _ auth.Principal, req wire.SearchRequest) (*wire.SearchResponse, error) {
	f.got = req
	if f.err != nil {
		return nil, f.err
	}
	return &wire.SearchResponse{SearchID: "s-1", Results: []wire.SearchResult{}}, nil
}

func (f *fakeNode) Import(_ context.Context, _ auth.Principal, format wire.ImportFormat, body io.Reader) (*wire.ImportResponse, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	f.got = string(format) + ":" + string(b)
	return &wire.ImportResponse{Accepted: 1, Rejected: []wire.Rejection{}}, f.err
}

func (f *fakeNode) CreateRecord(context.Context, auth.Principal, *record.Record) error { return f.err }
func (f *fakeNode) UpdateRecord(_ context.Context, _ auth.Principal, rec *record.Record) error {
	f.got = rec.ID
	return f.err
}
func (f *fakeNode) GetRecord(context.Context, auth.Principal, string) (record.Record, error) {
	return record.Record{ID: "FR-1"}, f.err
}
func (f *fakeNode) DeleteRecord(context.Context, auth.Principal, string) error { return f.err }
func (f *fakeNode) Hit(auth.Principal, string) (wire.Hit, error)               { return wire.Hit{}, f.err }
func (f *fakeNode) Hits(_ auth.Principal, hf wire.HitFilter) (wire.HitPage, error) {
	f.got = hf
	return wire.HitPage{Hits: []wire.Hit{}}, f.err
}
func (f *fakeNode) Review(auth.Principal, wire.ReviewFilter) (wire.ReviewPage, error) {
	return wire.ReviewPage{}, f.err
}
func (f *fakeNode) WatchHits(auth.Principal) (<-chan wire.Hit, func()) { return f.feed, func() {} }
func (f *fakeNode) Decide(context.Context, auth.Principal, string, wire.DecisionRequest) (wire.Hit, error) {
	return wire.Hit{}, f.err
}
func (f *fakeNode) CreateTrace(context.Context, auth.Principal, wire.TraceRequest) (wire.Trace, error) {
	return wire.Trace{}, f.err
}
func (f *fakeNode) Traces(auth.Principal, string, string, int) ([]wire.Trace, string, error) {
	return nil, "", f.err
}
func (f *fakeNode) Trace(auth.Principal, string) (wire.Trace, error) { return wire.Trace{}, f.err }
func (f *fakeNode) AnswerTrace(auth.Principal, string, string) (wire.Trace, error) {
	return wire.Trace{}, f.err
}
func (f *fakeNode) CloseTrace(auth.Principal, string) (wire.Trace, error) { return wire.Trace{}, f.err }
func (f *fakeNode) Health() wire.Health                                   { return wire.Health{Status: "ok"} }
func (f *fakeNode) Shards() []wire.ShardStatus                            { return []wire.ShardStatus{} }
func (f *fakeNode) SearchBatch(context.Context, auth.Principal, io.Reader, func(any) error, func()) (wire.BatchDone, error) {
	return wire.BatchDone{}, f.err
}
func (f *fakeNode) StaleAfter() time.Duration        { return 10 * time.Minute }
func (f *fakeNode) Members() []wire.Member           { return []wire.Member{} }
func (f *fakeNode) Roster() (wire.RosterView, error) { return wire.RosterView{}, f.err }
func (f *fakeNode) Admit(context.Context, auth.Principal, transport.SignedEntry) (wire.RosterChange, error) {
	return wire.RosterChange{}, f.err
}
func (f *fakeNode) Revoke(context.Context, auth.Principal, transport.SignedRevocation) (wire.RosterChange, error) {
	return wire.RosterChange{}, f.err
}
func (f *fakeNode) Fault(wire.FaultRequest) error     { return f.err }
func (f *fakeNode) UpgradeStatus() wire.UpgradeStatus { return wire.UpgradeStatus{} }
func (f *fakeNode) FinalizeUpgrade(context.Context, auth.Principal) (wire.UpgradeFinalized, error) {
	return wire.UpgradeFinalized{}, f.err
}
func (f *fakeNode) CreateToken(auth.Principal, wire.TokenRequest) (wire.NewToken, error) {
	return wire.NewToken{}, f.err
}
func (f *fakeNode) ListTokens() []auth.Token                       { return nil }
func (f *fakeNode) RevokeToken(auth.Principal, string) error       { return f.err }
func (f *fakeNode) AuditTail(int) ([]audit.Entry, error)           { return nil, f.err }
func (f *fakeNode) AuditSince(uint64, int) ([]audit.Entry, error)  { return nil, f.err }
func (f *fakeNode) AuditBefore(uint64, int) ([]audit.Entry, error) { return nil, f.err }
func (f *fakeNode) VerifyAudit() (audit.Report, error)             { return audit.Report{}, f.err }
func (f *fakeNode) AuditAnchors(string) ([]notify.Anchor, error)   { return nil, f.err }

// observed is one request as the metrics hook saw it.
type observed struct {
	route  string
	status int
}

type fixture struct {
	node *fakeNode
	h    http.Handler
	seen []observed
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{node: &fakeNode{tokens: map[string]auth.Principal{
		"admin":    {Agency: "IPSG", Roles: []string{"admin", "operator", "recorder", "searcher"}},
		"searcher": {Agency: "FR-DOUANE", Country: "FR", Roles: []string{"searcher"}},
	}}}
	fx.h = New(Config{Node: fx.node, MaxBodyBytes: 1 << 10, MaxImportBytes: 4 << 10,
		Observe: func(route string, status int, _ time.Duration) { fx.seen = append(fx.seen, observed{route, status}) }})
	return fx
}

// answer is a recorded answer with its decoded error, if any.
type answer struct {
	*httptest.ResponseRecorder
	err *wire.Error
}

func (fx *fixture) do(t *testing.T, token, method, path, ctype, body string) answer {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	a := answer{ResponseRecorder: w}
	if w.Code >= 400 {
		var eb wire.ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error == nil {
			t.Fatalf("%s %s: %d with body %q, want the error shape", method, path, w.Code, w.Body)
		}
		a.err = eb.Error
	}
	return a
}

// TestStatusOfEveryKind: each kind has its status, Retry-After goes out when the error says when
// to retry, and the code, message and field reach the client as the backend made them.
func TestStatusOfEveryKind(t *testing.T) {
	want := map[wire.Kind]int{wire.Internal: 500, wire.Invalid: 400, wire.Unauthenticated: 401,
		wire.Forbidden: 403, wire.NotFound: 404, wire.Conflict: 409, wire.TooLarge: 413,
		wire.UnsupportedMedia: 415, wire.Unavailable: 503, wire.TooMany: 429}
	if len(want) != len(wire.Kinds()) {
		t.Fatalf("the table covers %d kinds of %d", len(want), len(wire.Kinds()))
	}
	for _, k := range wire.Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			fx := newFixture(t)
			e := wire.Errorf(k, "code_"+k.String(), "went %s", k)
			e.Field = "serial"
			if k == wire.Unavailable || k == wire.TooMany {
				e.Retry(7)
			}
			fx.node.err = e
			a := fx.do(t, "searcher", "POST", "/v1/search", "", `{"serial": "X1"}`)
			if a.Code != want[k] || Status(k) != want[k] {
				t.Fatalf("status %d (Status says %d), want %d", a.Code, Status(k), want[k])
			}
			if a.err.Code != "code_"+k.String() || a.err.Message != "went "+k.String() || a.err.Field != "serial" {
				t.Errorf("error %+v", a.err)
			}
			ra := a.Header().Get("Retry-After")
			retries := k == wire.Unavailable || k == wire.TooMany
			if (retries && ra != "7") || (!retries && ra != "") {
				t.Errorf("Retry-After %q", ra)
			}
			if ct := a.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestBackendErrors: a wrapped domain error keeps its kind and code; a record's field error is
// invalid_field; an unknown error is internal, and Classify explains what the node knows.
func TestBackendErrors(t *testing.T) {
	fx := newFixture(t)
	fx.node.err = errors.Join(errors.New("context"), wire.Errorf(wire.Conflict, "stale_entry", "serial 3, in force 4"))
	if a := fx.do(t, "searcher", "POST", "/v1/search", "", `{"serial": "X1"}`); a.Code != 409 || a.err.Code != "stale_entry" {
		t.Errorf("wrapped domain error: %d %+v", a.Code, a.err)
	}
	fx.node.err = &record.FieldError{Field: "make", Message: "is required"}
	if a := fx.do(t, "searcher", "POST", "/v1/search", "", `{"serial": "X1"}`); a.Code != 400 || a.err.Code != "invalid_field" || a.err.Field != "make" {
		t.Errorf("field error: %d %+v", a.Code, a.err)
	}
	fx.node.err = errors.New("disk on fire")
	if a := fx.do(t, "searcher", "POST", "/v1/search", "", `{"serial": "X1"}`); a.Code != 500 || a.err.Code != "internal" || a.err.Message != "disk on fire" {
		t.Errorf("unclassified error: %d %+v", a.Code, a.err)
	}
	sentinel := errors.New("no leader")
	classified := New(Config{Node: fx.node, MaxBodyBytes: 1 << 10, Classify: func(err error) *wire.Error {
		if errors.Is(err, sentinel) {
			return wire.Wrap(err, wire.Unavailable, "unavailable", "no leader; retry shortly").Retry(1)
		}
		return wire.As(err)
	}})
	fx.node.err = sentinel
	fx.h = classified
	if a := fx.do(t, "searcher", "POST", "/v1/search", "", `{"serial": "X1"}`); a.Code != 503 || a.Header().Get("Retry-After") != "1" || a.err.Code != "unavailable" {
		t.Errorf("classified sentinel: %d %+v", a.Code, a.err)
	}
}

func TestAuthFailures(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		status       int
		message      string
	}{
		{"no header", "", 401, "missing Authorization: Bearer TOKEN header"},
		{"not bearer", "Basic YWRtaW46YWRtaW4=", 401, "Authorization header must be 'Bearer TOKEN'"},
		{"unknown token", "Bearer nope", 401, "unknown or malformed token"},
		{"revoked token", "Bearer revoked", 401, "token has been revoked"},
		{"missing role", "Bearer searcher", 403, "token of FR-DOUANE lacks the admin role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			r := httptest.NewRequest("GET", "/v1/tokens", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			fx.h.ServeHTTP(w, r)
			var eb wire.ErrorBody
			_ = json.Unmarshal(w.Body.Bytes(), &eb)
			if w.Code != tc.status || eb.Error == nil || eb.Error.Message != tc.message {
				t.Fatalf("%d %s, want %d %q", w.Code, w.Body, tc.status, tc.message)
			}
			if len(fx.seen) != 1 || fx.seen[0] != (observed{"tokens.list", tc.status}) {
				t.Errorf("metrics saw %+v", fx.seen)
			}
		})
	}
	fx := newFixture(t)
	if a := fx.do(t, "admin", "GET", "/v1/tokens", "", ""); a.Code != 200 {
		t.Fatalf("admin: %d %s", a.Code, a.Body)
	}
}

// TestBodyLimits: a body announced over the limit is refused before it is read, one that turns
// out longer while read is refused too, both as too_large; an import has its own, larger limit.
func TestBodyLimits(t *testing.T) {
	fx := newFixture(t)
	big := `{"serial": "` + strings.Repeat("X", 2<<10) + `"}`
	a := fx.do(t, "searcher", "POST", "/v1/search", "", big)
	if a.Code != 413 || a.err.Code != "too_large" || !strings.Contains(a.err.Message, "over the limit of 1024 bytes") {
		t.Fatalf("announced: %d %+v", a.Code, a.err)
	}
	r := httptest.NewRequest("POST", "/v1/search", io.MultiReader(strings.NewReader(big)))
	r.ContentLength = -1 // unknown: the limit is met while reading
	r.Header.Set("Authorization", "Bearer searcher")
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	if w.Code != 413 || !strings.Contains(w.Body.String(), `"code":"too_large"`) {
		t.Fatalf("streamed: %d %s", w.Code, w.Body)
	}
	line := `{"id": "FR-1"}` + "\n"
	body := strings.Repeat(line, 2<<10/len(line)+1) // over the body limit, under the import's
	if a := fx.do(t, "admin", "POST", "/v1/import", "application/x-ndjson", body); a.Code != 200 || fx.node.got != "jsonl:"+body {
		t.Fatalf("import under its limit: %d %s", a.Code, a.Body)
	}
	if a := fx.do(t, "admin", "POST", "/v1/import", "application/x-ndjson", strings.Repeat(line, 5<<10/len(line))); a.Code != 413 {
		t.Fatalf("import over its limit: %d %s", a.Code, a.Body)
	}
}

func TestRequestDecoding(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		body, code, field string
	}{
		{``, "invalid_json", ""},
		{`{"serial": `, "invalid_json", ""},
		{`{"serial": 7}`, "invalid_field", "serial"},
		{`{"serial": "X", "colour": "red"}`, "invalid_field", "colour"},
		{`{"serial": "X"} {}`, "invalid_json", ""},
	} {
		a := fx.do(t, "searcher", "POST", "/v1/search", "", tc.body)
		if a.Code != 400 || a.err.Code != tc.code || a.err.Field != tc.field {
			t.Errorf("%q: %d %+v, want 400 %s %s", tc.body, a.Code, a.err, tc.code, tc.field)
		}
	}
	if a := fx.do(t, "admin", "POST", "/v1/import", "application/pdf", "x"); a.Code != 415 || a.err.Code != "unsupported_media_type" {
		t.Errorf("import as pdf: %d %+v", a.Code, a.err)
	}
	if a := fx.do(t, "admin", "POST", "/v1/import", "text/csv; charset=utf-8", "id\n"); a.Code != 200 || fx.node.got != "csv:id\n" {
		t.Errorf("csv import: %d %v", a.Code, fx.node.got)
	}
	if a := fx.do(t, "admin", "PUT", "/v1/records/FR-1", "", `{"id": "FR-2"}`); a.Code != 400 || a.err.Field != "id" {
		t.Errorf("id differs from the URL: %d %+v", a.Code, a.err)
	}
	if a := fx.do(t, "admin", "PUT", "/v1/records/FR-1", "", `{}`); a.Code != 200 || fx.node.got != "FR-1" {
		t.Errorf("id from the URL: %d %v", a.Code, fx.node.got)
	}
	if a := fx.do(t, "admin", "GET", "/v1/hits?status=lost", "", ""); a.Code != 400 || a.err.Field != "status" {
		t.Errorf("hits status: %d %+v", a.Code, a.err)
	}
	if a := fx.do(t, "admin", "GET", "/v1/hits?status=overdue&since=2026-11-25T10:00:00Z", "", ""); a.Code != 200 || a.Body.String() != "{\"hits\":[],\"cursor\":\"\"}\n" {
		t.Errorf("hits: %d %s", a.Code, a.Body)
	} else if f := fx.node.got.(wire.HitFilter); f.Status != "overdue" || f.Since.Year() != 2026 {
		t.Errorf("filter %+v", f)
	}
	if a := fx.do(t, "admin", "GET", "/v1/audit?n=0", "", ""); a.Code != 400 || a.err.Field != "n" {
		t.Errorf("audit n=0: %d %+v", a.Code, a.err)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	fx := newFixture(t)
	a := fx.do(t, "searcher", "GET", "/v1/nothing-here", "", "")
	if a.Code != 404 || a.err.Code != "not_found" || a.err.Message != "no such endpoint: GET /v1/nothing-here" {
		t.Fatalf("%d %+v", a.Code, a.err)
	}
	// Without a token the answer is 401: the API does not say which endpoints exist.
	if a := fx.do(t, "", "GET", "/v1/nothing-here", "", ""); a.Code != 401 {
		t.Fatalf("without a token: %d", a.Code)
	}
	if a := fx.do(t, "", "GET", "/v1/health", "", ""); a.Code != 200 || a.Body.String() != "{\"status\":\"ok\",\"node\":\"\",\"role\":\"\",\"version\":\"\",\"uptime_s\":0,\"records\":0,\"checks\":null}\n" {
		t.Fatalf("health: %d %s", a.Code, a.Body)
	}
}

// TestHitStream: the stream's bytes are the ones clients parse: a comment first, then each hit
// the backend feeds as an event with its id.
func TestHitStream(t *testing.T) {
	fx := newFixture(t)
	fx.node.feed = make(chan wire.Hit, 2)
	fx.node.feed <- wire.Hit{ID: "h-1", RecordID: "FR-1"}
	srv := httptest.NewServer(fx.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/hits/stream", nil)
	req.Header.Set("Authorization", "Bearer searcher")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", resp.Header)
	}
	b, _ := json.Marshal(wire.Hit{ID: "h-1", RecordID: "FR-1"})
	want := ": fedarms hits\n\nevent: hit\nid: h-1\ndata: " + string(b) + "\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != want {
		t.Fatalf("stream %q (%v), want %q", got, err, want)
	}
}
