package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/replication"
)

// apiError is the JSON error every non-2xx answer carries.
type apiError struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter int    `json:"-"`
}

func (e *apiError) Error() string { return e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// toAPIError maps internal errors to the API's shape.
func toAPIError(err error) *apiError {
	var ae *apiError
	var fe *record.FieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return &apiError{Status: 400, Code: "invalid_field", Message: fe.Error(), Field: fe.Field}
	case errors.As(err, &mbe):
		return errf(413, "too_large", "request body is over the limit of %d bytes", mbe.Limit)
	case errors.Is(err, replication.ErrNotLeader):
		return &apiError{Status: 503, Code: "unavailable", Message: err.Error() + "; retry shortly", RetryAfter: 1}
	case errors.Is(err, replication.ErrClosed):
		return &apiError{Status: 503, Code: "unavailable", Message: "node is shutting down", RetryAfter: 5}
	}
	return errf(500, "internal", "%v", err)
}

func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	if ae.Status < 400 || ae.Status > 599 {
		ae.Status = http.StatusInternalServerError
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, map[string]any{"error": ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// decodeStrict decodes one JSON value, rejecting unknown fields and trailing data.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errf(400, "invalid_json", "unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te):
		return &apiError{Status: 400, Code: "invalid_field", Field: te.Field, Message: fmt.Sprintf("%s: expected %s, got %s", te.Field, te.Type, te.Value)}
	case errors.Is(err, io.EOF):
		return errf(400, "invalid_json", "empty body; expected a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apiError{Status: 400, Code: "invalid_field", Field: f, Message: fmt.Sprintf("unknown field %q", f)}
	}
	return errf(400, "invalid_json", "malformed JSON: %v", err)
}

// handler is an API handler that has been authenticated.
type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// route wraps an API handler: bearer auth, role check, body limit, metrics and the error shape.
func (n *Node) route(name string, role string, limit int64, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		err := n.serveRoute(sw, r, role, limit, h)
		if err != nil {
			writeError(sw, err)
		}
		n.met.observeHTTP(name, sw.status, time.Since(t0))
	})
}

func (n *Node) serveRoute(w http.ResponseWriter, r *http.Request, role string, limit int64, h handler) error {
	p, err := n.authenticate(r)
	if err != nil {
		return err
	}
	if role != "" && !p.Has(role) {
		return errf(403, "forbidden", "token of %s lacks the %s role", p.Agency, role)
	}
	if r.ContentLength > limit {
		return errf(413, "too_large", "request body of %d bytes is over the limit of %d bytes", r.ContentLength, limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return h(w, r, p)
}

func (n *Node) authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, errf(401, "unauthenticated", "missing Authorization: Bearer TOKEN header")
	}
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return auth.Principal{}, errf(401, "unauthenticated", "Authorization header must be 'Bearer TOKEN'")
	}
	p, err := n.tokens.Authenticate(strings.TrimSpace(secret))
	switch {
	case errors.Is(err, auth.ErrRevoked):
		return p, errf(401, "unauthenticated", "token has been revoked")
	case err != nil:
		return p, errf(401, "unauthenticated", "unknown or malformed token")
	}
	return p, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (full duplex, flushes).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streamed answers reach the client.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Handler is the node's HTTP API.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	lim := n.cfg.Limits.MaxBodyBytes
	mux.Handle("POST /v1/search", n.route("search", "searcher", lim, n.handleSearch))
	mux.Handle("POST /v1/search/batch", n.route("search.batch", "searcher", n.cfg.Limits.MaxImportBytes, n.handleSearchBatch))
	mux.Handle("POST /v1/import", n.route("import", "recorder", n.cfg.Limits.MaxImportBytes, n.handleImport))
	mux.Handle("POST /v1/records", n.route("records.create", "recorder", lim, n.handleCreate))
	mux.Handle("GET /v1/records/{id}", n.route("records.get", "searcher", lim, n.handleGet))
	mux.Handle("PUT /v1/records/{id}", n.route("records.update", "recorder", lim, n.handleUpdate))
	mux.Handle("DELETE /v1/records/{id}", n.route("records.delete", "recorder", lim, n.handleDelete))
	mux.Handle("GET /v1/shards", n.route("shards", "", lim, n.handleShards))
	mux.Handle("POST /v1/traces", n.route("traces.create", "", lim, n.handleTraceCreate))
	mux.Handle("GET /v1/traces", n.route("traces.list", "", lim, n.handleTraceList))
	mux.Handle("GET /v1/traces/{id}", n.route("traces.get", "", lim, n.handleTraceGet))
	mux.Handle("POST /v1/traces/{id}/answer", n.route("traces.answer", "recorder", lim, n.handleTraceAnswer))
	mux.Handle("POST /v1/traces/{id}/close", n.route("traces.close", "", lim, n.handleTraceClose))
	mux.Handle("GET /v1/reference/makes", n.route("reference.makes", "", lim, n.handleRefMakes))
	mux.Handle("GET /v1/reference/calibres", n.route("reference.calibres", "", lim, n.handleRefCalibres))
	mux.Handle("GET /v1/cluster/members", n.route("members", "", lim, n.handleMembers))
	mux.Handle("POST /v1/federation/members", n.route("federation.admit", "admin", lim, n.handleAdmit))
	mux.Handle("POST /v1/federation/revocations", n.route("federation.revoke", "admin", lim, n.handleRevoke))
	mux.Handle("GET /v1/federation/roster", n.route("federation.roster", "admin", lim, n.handleRoster))
	mux.Handle("POST /v1/debug/faults", n.route("faults", "admin", lim, n.handleFaults))
	mux.Handle("GET /v1/tokens", n.route("tokens.list", "admin", lim, n.handleTokenList))
	mux.Handle("POST /v1/tokens", n.route("tokens.create", "admin", lim, n.handleTokenCreate))
	mux.Handle("DELETE /v1/tokens/{id}", n.route("tokens.revoke", "admin", lim, n.handleTokenRevoke))
	mux.Handle("GET /v1/audit", n.route("audit.tail", "operator", lim, n.handleAuditTail))
	mux.Handle("GET /v1/audit/verify", n.route("audit.verify", "operator", lim, n.handleAuditVerify))
	mux.Handle("GET /v1/hits", n.route("hits.list", "", lim, n.handleHitList))
	mux.Handle("GET /v1/hits/stream", n.route("hits.stream", "", lim, n.handleHitStream))
	mux.Handle("GET /v1/hits/{id}", n.route("hits.get", "", lim, n.handleHitGet))
	mux.Handle("POST /v1/hits/{id}/decision", n.route("hits.decide", "", lim, n.handleDecision))
	mux.HandleFunc("GET /v1/health", n.handleHealth)
	mux.Handle("GET /metrics", n.met.handler())
	mux.Handle("GET /console/", consoleHandler())
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	mux.Handle("/v1/", n.route("unknown", "", lim, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		return errf(404, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
	return mux
}
