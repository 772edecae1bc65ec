package wire

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// strictWalk reads a well-formed JSON body token by token against the shape it was decoded into.
type strictWalk struct{ dec *json.Decoder }

func newStrictWalk(b []byte) *strictWalk {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return &strictWalk{dec: d}
}

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
	tok, err := w.dec.Token()
	if err != nil {
		return Errorf(Invalid, "invalid_json", "malformed JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return w.object(s, path)
		}
		var elem *shape
		if s != nil {
			elem = s.elem
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	case string:
		if strings.IndexByte(t, 0) >= 0 {
			return FieldError(orBody(path), fmt.Sprintf("%s: holds a NUL character", orBody(path)))
		}
	}
	return nil
}

func (w *strictWalk) object(s *shape, path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return Errorf(Invalid, "invalid_json", "malformed JSON: %v", err)
		}
		key, _ := tok.(string)
		at := key
		if path != "" {
			at = path + "." + key
		}
		if strings.IndexByte(key, 0) >= 0 {
			return FieldError(orBody(path), fmt.Sprintf("key %q holds a NUL character", key))
		}
		if seen[key] {
			return FieldError(at, fmt.Sprintf("%s: key given twice", at))
		}
		seen[key] = true
		var next *shape
		switch {
		case s == nil:
		case s.fields != nil:
			f, ok := s.fields[key]
			if !ok {
				return FieldError(at, fmt.Sprintf("unknown field %q (field names are case-sensitive)", key))
			}
			next = f
		default:
			next = s.elem
		}
		if err := w.value(next, at); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
