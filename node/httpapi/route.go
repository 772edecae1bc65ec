package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// handler is an API handler that has been authenticated.
type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// route wraps an API handler: bearer auth, role check, body limit, metrics and the error shape.
func (a *api) route(name string, role string, limit int64, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := a.clock.Now()
		sw := &statusWriter{ResponseWriter: w}
		if err := a.serveRoute(sw, r, role, limit, h); err != nil {
			writeError(sw, asError(err, a.classify))
		}
		a.observe(name, sw.status, a.clock.Now().Sub(t0))
	})
}

func (a *api) serveRoute(w http.ResponseWriter, r *http.Request, role string, limit int64, h handler) error {
	p, err := a.authenticate(r)
	if err != nil {
		return err
	}
	if role != "" && !p.Has(role) {
		return wire.Errorf(wire.Forbidden, "forbidden", "token of %s lacks the %s role", p.Agency, role)
	}
	if r.ContentLength > limit {
		return wire.Errorf(wire.TooLarge, "too_large", "request body of %d bytes is over the limit of %d bytes", r.ContentLength, limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return h(w, r, p)
}

func (a *api) authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, wire.Errorf(wire.Unauthenticated, "unauthenticated", "missing Authorization: Bearer TOKEN header")
	}
	if _, ok := strings.CutPrefix(h, "Bearer "); !ok {
		return auth.Principal{}, wire.Errorf(wire.Unauthenticated, "unauthenticated", "Authorization header must be 'Bearer TOKEN'")
	}
	return a.authenticateSecret(bearer(r))
}

// bearer is the request's bearer token's secret ("" without one).
func bearer(r *http.Request) string {
	secret, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(secret)
}

// authenticateSecret finds the principal of a token's secret, or says why there is none.
func (a *api) authenticateSecret(secret string) (auth.Principal, error) {
	p, err := a.b.Authenticate(secret)
	switch {
	case errors.Is(err, auth.ErrRevoked):
		return p, wire.Errorf(wire.Unauthenticated, "unauthenticated", "token has been revoked")
	case errors.Is(err, auth.ErrExpired):
		return p, wire.Errorf(wire.Unauthenticated, "unauthenticated", "token has expired")
	case err != nil:
		return p, wire.Errorf(wire.Unauthenticated, "unauthenticated", "unknown or malformed token")
	}
	return p, nil
}

// statusWriter remembers the status of the answer, for metrics.
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
