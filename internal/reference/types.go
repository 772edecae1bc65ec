package reference

import (
	"fmt"
	"slices"
	"sync"
)

// recordTypes mirrors record.Types; this package may not import record, and a test keeps the
// two lists equal.
var recordTypes = []string{"pistol", "revolver", "rifle", "shotgun", "submachine_gun", "machine_gun", "other"}

var (
	typesOnce sync.Once
	typeByKey map[string][]string
)

func loadTypes() map[string][]string {
	typesOnce.Do(func() {
		m, err := parseTypes("data/types.csv")
		if err != nil {
			panic(fmt.Sprintf("reference: %v", err))
		}
		typeByKey = m
	})
	return typeByKey
}

func parseTypes(name string) (map[string][]string, error) {
	rows, err := readCSV(name, "term,types")
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	// Each record type names itself, so "submachine_gun" resolves without a row of its own.
	for _, ty := range recordTypes {
		m[string(nameKey(nil, ty, false))] = []string{ty}
	}
	for i, r := range rows {
		line := i + 2
		types := splitList(r[1])
		if len(types) == 0 {
			return nil, fmt.Errorf("%s line %d: term %q has no types", name, line, r[0])
		}
		for _, ty := range types {
			if !slices.Contains(recordTypes, ty) {
				return nil, fmt.Errorf("%s line %d: term %q: unknown type %q", name, line, r[0], ty)
			}
		}
		k := string(nameKey(nil, r[0], false))
		if old, ok := m[k]; ok && !slices.Equal(old, types) {
			return nil, fmt.Errorf("%s line %d: term %q already maps to %v", name, line, r[0], old)
		}
		m[k] = types
	}
	return m, nil
}

// LookupType resolves a firearm type as recorded (a record type, a synonym, or an ambiguous term
// such as "handgun") to the record types it may mean, most likely first. The returned slice is
// shared and must not be modified.
func LookupType(s string) (types []string, ok bool) {
	var buf [64]byte
	types, ok = loadTypes()[string(nameKey(buf[:0], s, false))]
	return types, ok
}
