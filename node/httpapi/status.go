package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/fedarms/fedarms/node/wire"
)

// statuses is the HTTP status of each kind of error.
var statuses = map[wire.Kind]int{
	wire.Internal:         http.StatusInternalServerError,
	wire.Invalid:          http.StatusBadRequest,
	wire.Unauthenticated:  http.StatusUnauthorized,
	wire.Forbidden:        http.StatusForbidden,
	wire.NotFound:         http.StatusNotFound,
	wire.Conflict:         http.StatusConflict,
	wire.TooLarge:         http.StatusRequestEntityTooLarge,
	wire.UnsupportedMedia: http.StatusUnsupportedMediaType,
	wire.Unavailable:      http.StatusServiceUnavailable,
	wire.TooMany:          http.StatusTooManyRequests,
}

// Status is the HTTP status of an error of kind k.
func Status(k wire.Kind) int {
	if s, ok := statuses[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WriteError answers err in the API's shape: its kind's status, Retry-After when the error says
// when to retry, and {"error": {...}}.
func WriteError(w http.ResponseWriter, err error) {
	writeError(w, asError(err, wire.As))
}

func writeError(w http.ResponseWriter, e *wire.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	WriteJSON(w, Status(e.Kind), wire.ErrorBody{Error: e})
}

// asError is the API error of err: its own, too_large for a body over its limit, and anything else
// what classify says.
func asError(err error, classify func(error) *wire.Error) *wire.Error {
	var we *wire.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &mbe):
		return wire.Errorf(wire.TooLarge, "too_large", "request body is over the limit of %d bytes", mbe.Limit)
	}
	return classify(err)
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
