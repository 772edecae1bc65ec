package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrTrailingData is returned when a line holds more than white space after its JSON value. A
// json.Decoder would silently ignore the rest, which would hide a second record glued to the first.
var ErrTrailingData = errors.New("record: trailing data after the JSON value")

// UnmarshalJSONLine decodes one JSON object into r, exactly as encoding/json with
// DisallowUnknownFields would for the Record type, but without reflection.
//
// r is reset to the zero Record first, so a Record can be reused across lines without one line's
// values (or one line's other_serials backing array) leaking into the next. On success the result
// equals what json.Decoder.Decode gives for a zero Record: keys match case-insensitively with an exact
// match preferred, the last of duplicate keys wins, null leaves a string unchanged and sets
// other_serials to nil, [] gives an empty non-nil other_serials, and strings are unescaped with
// invalid UTF-8 and lone surrogates replaced by U+FFFD. A top-level null succeeds with a zero Record.
//
// It is stricter in one way: anything but JSON white space after the value is rejected with
// ErrTrailingData, where the Decoder would ignore it. Every other error comes from encoding/json
// itself (the fast path hands anything it does not accept over to it), so messages such as
// `json: unknown field "name"` keep their usual form. After an error r must not be used.
func (r *Record) UnmarshalJSONLine(b []byte) error {
	*r = Record{}
	p := lineParser{b: b}
	if p.line(r) {
		return checkTrailing(b, p.i)
	}
	*r = Record{}
	return r.unmarshalStd(b)
}

// unmarshalStd is the reference path: it decides every input the fast path declines, so errors carry
// encoding/json's own messages. They are returned unwrapped because callers match on the
// "json: unknown field " prefix.
func (r *Record) unmarshalStd(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return err
	}
	return checkTrailing(b, int(dec.InputOffset()))
}

func checkTrailing(b []byte, end int) error {
	for i := end; i < len(b); i++ {
		if !isSpace(b[i]) {
			return fmt.Errorf("%w: %q at offset %d", ErrTrailingData, b[i], i)
		}
	}
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// Indexes of the Record's JSON fields, as fieldIndex returns them.
const (
	fieldID = iota
	fieldSerial
	fieldOtherSerials
	fieldMake
	fieldModel
	fieldCalibre
	fieldType
	fieldCountryOfManufacture
	fieldRecordingCountry
	fieldStatus
	fieldEventDate
	fieldCaseReference
	fieldRemarks
	fieldReviewDate
	fieldUnknown = -1
)

// longestFieldName bounds the keys worth folding: a longer key cannot name a field.
const longestFieldName = len("country_of_manufacture")

// fieldIndex maps a key to its field. encoding/json tries an exact match, then a case-folded one;
// keys reaching here are ASCII (the parser declines others), and every field name is lower-case
// ASCII, so folding reduces to lower-casing the key. Non-ASCII keys can still fold onto a name
// (U+017F folds to s, U+212A to k), which is why they go to encoding/json instead.
func fieldIndex(key []byte) int {
	if f := exactField(key); f != fieldUnknown || len(key) > longestFieldName {
		return f
	}
	var lower [longestFieldName]byte
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return exactField(lower[:len(key)])
}

func exactField(key []byte) int {
	switch string(key) {
	case "id":
		return fieldID
	case "serial":
		return fieldSerial
	case "other_serials":
		return fieldOtherSerials
	case "make":
		return fieldMake
	case "model":
		return fieldModel
	case "calibre":
		return fieldCalibre
	case "type":
		return fieldType
	case "country_of_manufacture":
		return fieldCountryOfManufacture
	case "recording_country":
		return fieldRecordingCountry
	case "status":
		return fieldStatus
	case "event_date":
		return fieldEventDate
	case "case_reference":
		return fieldCaseReference
	case "remarks":
		return fieldRemarks
	case "review_date":
		return fieldReviewDate
	}
	return fieldUnknown
}

// stringField returns the string field with index f; f is never fieldOtherSerials or unknown.
func (r *Record) stringField(f int) *string {
	switch f {
	case fieldID:
		return &r.ID
	case fieldSerial:
		return &r.Serial
	case fieldMake:
		return &r.Make
	case fieldModel:
		return &r.Model
	case fieldCalibre:
		return &r.Calibre
	case fieldType:
		return &r.Type
	case fieldCountryOfManufacture:
		return &r.CountryOfManufacture
	case fieldRecordingCountry:
		return &r.RecordingCountry
	case fieldStatus:
		return &r.Status
	case fieldEventDate:
		return &r.EventDate
	case fieldCaseReference:
		return &r.CaseReference
	case fieldRemarks:
		return &r.Remarks
	}
	return &r.ReviewDate
}

// alpha2 holds every pair of upper-case ASCII letters back to back, so a country code can be sliced
// out of it instead of allocated for each record.
var alpha2 = func() string {
	b := make([]byte, 0, 26*26*2)
	for c1 := byte('A'); c1 <= 'Z'; c1++ {
		for c2 := byte('A'); c2 <= 'Z'; c2++ {
			b = append(b, c1, c2)
		}
	}
	return string(b)
}()

// fieldString turns decoded bytes into the field's string. Coded fields usually hold one of a few
// values, which are shared rather than allocated; the result is equal either way.
func fieldString(f int, v []byte) string {
	switch f {
	case fieldType:
		return intern(v, Types)
	case fieldStatus:
		return intern(v, Statuses)
	case fieldCountryOfManufacture, fieldRecordingCountry:
		if len(v) == 2 && 'A' <= v[0] && v[0] <= 'Z' && 'A' <= v[1] && v[1] <= 'Z' {
			i := (int(v[0]-'A')*26 + int(v[1]-'A')) * 2
			return alpha2[i : i+2]
		}
	}
	return string(v)
}

func intern(v []byte, known []string) string {
	for _, s := range known {
		if string(v) == s {
			return s
		}
	}
	return string(v)
}

// lineParser is the fast path: a strict scanner for exactly the inputs that decode into a Record
// without error. It reports false for anything else, and the caller asks encoding/json.
type lineParser struct {
	b       []byte
	i       int
	scratch []byte // unescaped string bytes, allocated on the first escape and reused after it
}

// line parses white space, then an object or null; p.i ends just after the value.
func (p *lineParser) line(r *Record) bool {
	p.skipSpace()
	if p.literalNull() {
		return true
	}
	if !p.consume('{') {
		return false
	}
	p.skipSpace()
	if p.consume('}') {
		return true
	}
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		f := fieldIndex(key)
		if f == fieldUnknown {
			return false // encoding/json reports the unknown field
		}
		p.skipSpace()
		if !p.consume(':') {
			return false
		}
		p.skipSpace()
		if f == fieldOtherSerials {
			if !p.otherSerials(r) {
				return false
			}
		} else if !p.literalNull() {
			v, ok := p.str()
			if !ok {
				return false
			}
			*r.stringField(f) = fieldString(f, v)
		}
		p.skipSpace()
		if p.consume('}') {
			return true
		}
		if !p.consume(',') {
			return false
		}
		p.skipSpace()
	}
}

// otherSerials parses null or an array of strings and nulls.
func (p *lineParser) otherSerials(r *Record) bool {
	if p.literalNull() {
		r.OtherSerials = nil
		return true
	}
	// A repeated key decodes into the slice already there, reusing its backing array, so nulls
	// would keep elements of the earlier value (even ones truncated away); that rare case is left
	// to encoding/json rather than mirrored here.
	if cap(r.OtherSerials) > 0 || !p.consume('[') {
		return false
	}
	p.skipSpace()
	if p.consume(']') {
		r.OtherSerials = []string{}
		return true
	}
	var stack [8]string
	list := stack[:0]
	for {
		if p.literalNull() {
			list = append(list, "")
		} else {
			v, ok := p.str()
			if !ok {
				return false
			}
			list = append(list, string(v))
		}
		p.skipSpace()
		if p.consume(']') {
			break
		}
		if !p.consume(',') {
			return false
		}
		p.skipSpace()
	}
	r.OtherSerials = make([]string, len(list))
	copy(r.OtherSerials, list)
	return true
}

func (p *lineParser) skipSpace() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *lineParser) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// literalNull consumes null if it comes next. What follows it is checked by the caller, which
// expects a delimiter, so "nullx" is declined like encoding/json's scanner does.
func (p *lineParser) literalNull() bool {
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// key parses an object key, declining any with bytes beyond ASCII (see fieldIndex).
func (p *lineParser) key() ([]byte, bool) {
	k, ok := p.str()
	if !ok {
		return nil, false
	}
	for _, c := range k {
		if c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return k, true
}

// str parses a JSON string and returns its unescaped bytes: a slice of the input when no unescaping
// is needed, else of p.scratch. Strings that are plain ASCII or valid UTF-8 stay on the first loop.
func (p *lineParser) str() ([]byte, bool) {
	b, i := p.b, p.i
	if i >= len(b) || b[i] != '"' {
		return nil, false
	}
	i++
	start := i
	for i < len(b) {
		c := b[i]
		if plainASCII[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			p.i = i + 1
			return b[start:i], true
		case c == '\\' || c < ' ':
			return p.unescape(start, i)
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return p.unescape(start, i)
		}
		i += size
	}
	return nil, false
}

// plainASCII marks the bytes a string holds as they are: ASCII, neither a control character nor the
// quote or backslash that end or escape.
var plainASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unescape finishes a string whose bytes from start up to i were plain, mirroring encoding/json's
// unquote: the same escapes, the same surrogate-pair rule and one U+FFFD per invalid UTF-8 byte.
func (p *lineParser) unescape(start, i int) ([]byte, bool) {
	b := p.b
	if p.scratch == nil {
		p.scratch = make([]byte, 0, 128) // one buffer for the line, big enough for most
	}
	out := append(p.scratch[:0], b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.scratch = out
			return out, true
		case c == '\\':
			if i+1 >= len(b) {
				return nil, false
			}
			if e := simpleEscape(b[i+1]); e != 0 {
				out = append(out, e)
				i += 2
				continue
			}
			r := hex4(b[i:])
			if r < 0 {
				return nil, false // not \u and not simple: invalid escape
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if pair := utf16.DecodeRune(r, hex4(b[i:])); pair != unicode.ReplacementChar {
					out = utf8.AppendRune(out, pair)
					i += 6
					continue
				}
				r = unicode.ReplacementChar // lone surrogate; the next escape is read on its own
			}
			out = utf8.AppendRune(out, r)
		case c < ' ':
			return nil, false
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r) // RuneError for an invalid byte, as encoding/json does
			i += size
		}
	}
	return nil, false
}

// simpleEscape returns the byte a one-letter escape stands for, or 0 when c does not make one.
func simpleEscape(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// hex4 decodes a \uXXXX escape at the start of s, or returns -1 when s does not start with one.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
