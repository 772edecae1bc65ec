package eval

import (
	"slices"

	"github.com/fedarms/fedarms/internal/reference"
)

// Tables adapts the reference tables to matcher.Reference, as the node does.
type Tables struct{}

// MakeID resolves any spelling of a make to its table id.
func (Tables) MakeID(s string) (string, bool) {
	m, ok := reference.LookupMake(s)
	return m.ID, ok
}

// CalibreClass resolves any spelling of a calibre to its equivalence class id.
func (Tables) CalibreClass(s string) (string, bool) {
	c, ok := reference.LookupCalibre(s)
	return c.ID, ok
}

// CalibresClose reports whether two class ids are listed as related.
func (Tables) CalibresClose(a, b string) bool {
	c, ok := reference.CalibreByID(a)
	return ok && slices.Contains(c.Close, b)
}

// TypeIDs returns the record types a type word may mean.
func (Tables) TypeIDs(s string) []string {
	t, _ := reference.LookupType(s)
	return t
}
