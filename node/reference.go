package node

import "github.com/fedarms/fedarms/internal/reference"

// referenceTables adapts the reference package to what the matcher needs.
type referenceTables struct{}

func (referenceTables) MakeID(s string) (string, bool) {
	m, ok := reference.LookupMake(s)
	return m.ID, ok
}

func (referenceTables) CalibreClass(s string) (string, bool) {
	c, ok := reference.LookupCalibre(s)
	return c.ID, ok
}

func (referenceTables) CalibresClose(a, b string) bool {
	return reference.CalibreRelation(a, b) == reference.Close
}

func (referenceTables) TypeIDs(s string) []string {
	t, _ := reference.LookupType(s)
	return t
}
