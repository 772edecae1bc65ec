package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DecodeStrict decodes one JSON value from r into v, refusing unknown fields and trailing data.
// A malformed body is an Invalid error (DecodeError); a body over its limit is returned as the
// reader's error.
func DecodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return DecodeError(err)
	}
	if dec.More() {
		return Errorf(Invalid, "invalid_json", "unexpected data after the JSON value")
	}
	return nil
}

// DecodeError describes a JSON decoding error in the API's terms: a value of the wrong type or an
// unknown field is invalid_field naming the field, anything else invalid_json. A body over its
// limit (http.MaxBytesError) is returned unchanged, for the HTTP layer to answer too_large.
func DecodeError(err error) error {
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te):
		return FieldError(te.Field, fmt.Sprintf("%s: expected %s, got %s", te.Field, te.Type, te.Value))
	case errors.Is(err, io.EOF):
		return Errorf(Invalid, "invalid_json", "empty body; expected a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return FieldError(f, fmt.Sprintf("unknown field %q", f))
	}
	return Errorf(Invalid, "invalid_json", "malformed JSON: %v", err)
}
