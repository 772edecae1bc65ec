package wire

import (
	"errors"
	"fmt"

	"github.com/fedarms/fedarms/internal/record"
)

// Kind is what went wrong with a request, whatever carried it (HTTP or a node-to-node call).
type Kind uint8

// The kinds of error. The zero Kind is Internal, so an error nobody classified is a fault of the
// node, never the caller's.
const (
	Internal         Kind = iota // the node failed; nothing the caller can change
	Invalid                      // the request is malformed or breaks a rule (a field, a signature)
	Unauthenticated              // no credentials, or unknown or revoked ones
	Forbidden                    // the caller may not do this
	NotFound                     // nothing by that name here
	Conflict                     // the state forbids it now (already decided, stale entry, ...)
	TooLarge                     // the body is over its limit
	UnsupportedMedia             // the body's media type is not one the endpoint reads
	Unavailable                  // the node cannot serve it now; retry (after RetryAfter seconds)
	TooMany                      // the caller has used up a limit for now; retry after RetryAfter seconds
)

var kindNames = [...]string{"internal", "invalid", "unauthenticated", "forbidden", "not_found",
	"conflict", "too_large", "unsupported_media_type", "unavailable", "too_many"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// CallerFault reports whether an error of kind k is the request's fault (it would fail again as it
// is), rather than the node's or a passing state of the node.
func (k Kind) CallerFault() bool { return k != Internal && k != Unavailable && k != TooMany }

// Kinds lists every kind, for the tables that map them.
func Kinds() []Kind {
	return []Kind{Internal, Invalid, Unauthenticated, Forbidden, NotFound, Conflict, TooLarge, UnsupportedMedia, Unavailable, TooMany}
}

// Error is the API's error: the body of every refused request is {"error": Error}. Code is the
// contract clients match on (invalid_field, stale_entry, central_fixed, not_federated, too_large,
// unsupported_media_type, unavailable, ...); Kind and RetryAfter travel beside the body, as the
// status and the Retry-After header of an HTTP answer.
type Error struct {
	Kind       Kind   `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter int    `json:"-"` // seconds; 0 when the answer gives no hint
	wrapped    error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap is the error this one describes: the one Errorf was given with %w, or the one As
// classified.
func (e *Error) Unwrap() error { return e.wrapped }

// Errorf makes an error of kind with code; format and args make the message, as fmt.Errorf does
// (%w keeps the wrapped error reachable by errors.Is and errors.As).
func Errorf(kind Kind, code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Code: code, Message: err.Error(), wrapped: errors.Unwrap(err)}
}

// Wrap makes an error of kind with code and message msg that unwraps to err.
func Wrap(err error, kind Kind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg, wrapped: err}
}

// FieldError is an invalid_field error naming the field.
func FieldError(field, msg string) *Error {
	return &Error{Kind: Invalid, Code: "invalid_field", Field: field, Message: msg}
}

// Retry sets the seconds after which the caller may retry, and returns e.
func (e *Error) Retry(seconds int) *Error {
	e.RetryAfter = seconds
	return e
}

// As finds the API error in err's chain; a record's field error becomes invalid_field, and
// anything else an internal error with err's text.
func As(err error) *Error {
	var ae *Error
	var fe *record.FieldError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return &Error{Kind: Invalid, Code: "invalid_field", Message: fe.Error(), Field: fe.Field, wrapped: err}
	}
	return &Error{Kind: Internal, Code: "internal", Message: err.Error(), wrapped: err}
}

// KindOf is the kind of err (Internal when it carries none).
func KindOf(err error) Kind { return As(err).Kind }

// ErrorBody is the JSON of a refused request: {"error": {"code": ..., "message": ..., "field": ...}}.
type ErrorBody struct {
	Error *Error `json:"error"`
}
