package wire

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// strictWalk reads a well-formed JSON body byte by byte against the shape it was decoded into.
// encoding/json has already accepted the body, so the walk trusts its grammar and looks only for
// what the decoder lets through: keys in another case than the field's, a key twice in an object,
// and NUL written as an escape in a string or key.
type strictWalk struct {
	b []byte
	i int
}

func newStrictWalk(b []byte) *strictWalk { return &strictWalk{b: b} }

// shape is what the walk knows of a Go type: for a struct the exact JSON names of its fields and
// their shapes, for a map or slice its element's; nil is any value (checked only for duplicates and
// NUL).
type shape struct {
	fields map[string]*shape // struct
	elem   *shape            // map, slice, array
	kind   reflect.Kind
}

var shapes sync.Map // reflect.Type -> *shape

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func shapeOf(v any) *shape {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	return shapeOfType(t, map[reflect.Type]*shape{})
}

func shapeOfType(t reflect.Type, seen map[reflect.Type]*shape) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	if s, ok := seen[t]; ok {
		return s
	}
	// A type that decodes itself reads its JSON its own way: only duplicates and NUL are checked.
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	s := &shape{kind: t.Kind()}
	seen[t] = s
	switch t.Kind() {
	case reflect.Struct:
		s.fields = map[string]*shape{}
		addFields(s, t, seen)
	case reflect.Map, reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			s.kind = reflect.String // []byte is a base64 string
			break
		}
		s.elem = shapeOfType(t.Elem(), seen)
	case reflect.Interface:
		return nil
	}
	shapes.Store(t, s)
	return s
}

// addFields adds t's JSON fields to s as encoding/json names them, with embedded structs' fields
// promoted.
func addFields(s *shape, t reflect.Type, seen map[reflect.Type]*shape) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(s, ft, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.fields[name] = shapeOfType(f.Type, seen)
	}
}

// value checks the next value against s; path names it in errors.
func (w *strictWalk) value(s *shape, path string) error {
	w.space()
	if w.i >= len(w.b) {
		return malformed()
	}
	switch w.b[w.i] {
	case '{':
		w.i++
		return w.object(s, path)
	case '[':
		w.i++
		var elem *shape
		if s != nil {
			elem = s.elem
		}
		for n := 0; ; n++ {
			w.space()
			if w.i < len(w.b) && w.b[w.i] == ']' {
				w.i++
				return nil
			}
			if n > 0 {
				if w.i >= len(w.b) || w.b[w.i] != ',' {
					return malformed()
				}
				w.i++
			}
			if err := w.value(elem, path+"["+strconv.Itoa(n)+"]"); err != nil {
				return err
			}
		}
	}
	return w.scalar(func() string { return path })
}

func (w *strictWalk) object(s *shape, path string) error {
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	for n := 0; ; n++ {
		w.space()
		if w.i < len(w.b) && w.b[w.i] == '}' {
			w.i++
			return nil
		}
		if n > 0 {
			if w.i >= len(w.b) || w.b[w.i] != ',' {
				return malformed()
			}
			w.i++
			w.space()
		}
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return malformed()
		}
		key, escaped, err := w.str()
		if err != nil {
			return err
		}
		if escaped {
			var k string
			if err := json.Unmarshal(w.b[w.i-len(key)-2:w.i], &k); err != nil {
				return malformed()
			}
			key = []byte(k)
		}
		// at names the value in errors; built only when one is reported or the value nests.
		at := func() string {
			if path == "" {
				return string(key)
			}
			return path + "." + string(key)
		}
		if bytes.IndexByte(key, 0) >= 0 {
			return FieldError(orBody(path), fmt.Sprintf("key %q holds a NUL character", key))
		}
		for _, k := range seen {
			if bytes.Equal(k, key) {
				return FieldError(at(), fmt.Sprintf("%s: key given twice", at()))
			}
		}
		seen = append(seen, key)
		var next *shape
		switch {
		case s == nil:
		case s.fields != nil:
			f, ok := s.fields[string(key)]
			if !ok {
				return FieldError(at(), fmt.Sprintf("unknown field %q (field names are case-sensitive)", key))
			}
			next = f
		default:
			next = s.elem
		}
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return malformed()
		}
		w.i++
		var err2 error
		if w.scalarNext() {
			err2 = w.scalar(func() string { return at() })
		} else {
			err2 = w.value(next, at())
		}
		if err2 != nil {
			return err2
		}
	}
}

// scalarNext reports whether the next value is a string, number or literal (not an object or
// array), so its path need not be built unless it is wrong.
func (w *strictWalk) scalarNext() bool {
	w.space()
	return w.i < len(w.b) && w.b[w.i] != '{' && w.b[w.i] != '['
}

// scalar checks a string, number or literal value; path is called only to report it.
func (w *strictWalk) scalar(path func() string) error {
	if w.b[w.i] == '"' {
		raw, escaped, err := w.str()
		if err != nil {
			return err
		}
		if escaped && escapesNUL(raw) {
			p := orBody(path())
			return FieldError(p, fmt.Sprintf("%s: holds a NUL character", p))
		}
		return nil
	}
	for w.i < len(w.b) { // a number, true, false or null
		switch w.b[w.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return nil
		}
		w.i++
	}
	return nil
}

// str reads the string at w.i (its opening quote) and returns its raw bytes between the quotes,
// and whether it holds an escape.
func (w *strictWalk) str() (raw []byte, escaped bool, err error) {
	for j := w.i + 1; j < len(w.b); j++ {
		switch w.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			raw = w.b[w.i+1 : j]
			w.i = j + 1
			return raw, escaped, nil
		}
	}
	return nil, false, malformed()
}

func (w *strictWalk) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

// escapesNUL reports whether a string's raw bytes write NUL as an escape (\u0000), telling an
// escaped backslash followed by "u0000" apart.
func escapesNUL(raw []byte) bool {
	for k := 0; k < len(raw); k++ {
		if raw[k] != '\\' || k+1 >= len(raw) {
			continue
		}
		if raw[k+1] == 'u' && k+6 <= len(raw) && string(raw[k+2:k+6]) == "0000" {
			return true
		}
		k++ // the escaped character
	}
	return false
}

func malformed() error { return Errorf(Invalid, "invalid_json", "malformed JSON") }

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
