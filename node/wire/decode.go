package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DecodeStrict decodes one JSON value from r into v, strictly: exactly one value (nothing but white
// space after it), keys exactly as the shape spells them (encoding/json alone matches them in any
// case), no key twice in an object, valid UTF-8 and no NUL character in any key or string. A
// malformed body is an Invalid error (DecodeError, or a FieldError naming the key); a body over its
// limit is returned as the reader's error.
//
// r is read whole: callers bound it (http.MaxBytesReader, a line of bounded length).
func DecodeStrict(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return DecodeError(err)
	}
	if !utf8.Valid(b) {
		return Errorf(Invalid, "invalid_json", "body is not valid UTF-8 (at byte %d)", invalidUTF8At(b))
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return Errorf(Invalid, "invalid_json", "body holds a NUL byte")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return DecodeError(err)
	}
	if rest := bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return Errorf(Invalid, "invalid_json", "unexpected data after the JSON value: %q", clip(rest, 32))
	}
	// encoding/json has decoded v: the body is well formed. Walk it again for what the decoder lets
	// through: keys in another case, duplicate keys, NUL in a string.
	w := newStrictWalk(b)
	return w.value(shapeOf(v), "")
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

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
