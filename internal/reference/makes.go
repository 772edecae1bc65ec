package reference

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Make is one manufacturer of the reference table: its canonical name, the country it is
// headquartered in (ISO alpha-2), the other names it is recorded under and its factory or
// proof codes.
type Make struct {
	ID      string
	Name    string
	Country string
	Aliases []string
	Codes   []string
}

type makeTable struct {
	all    []Make
	byID   map[string]int
	byKey  map[string]int // nameKey of name, every alias and every code -> index in all
	search []searchEntry
}

var (
	makesOnce sync.Once
	makes     makeTable
)

func loadMakes() *makeTable {
	makesOnce.Do(func() {
		t, err := parseMakes("data/makes.csv")
		if err != nil {
			panic(fmt.Sprintf("reference: %v", err))
		}
		makes = t
	})
	return &makes
}

func parseMakes(name string) (makeTable, error) {
	rows, err := readCSV(name, "id,name,country,aliases,codes")
	if err != nil {
		return makeTable{}, err
	}
	t := makeTable{byID: map[string]int{}, byKey: map[string]int{}}
	for i, r := range rows {
		line := i + 2
		m := Make{ID: r[0], Name: r[1], Country: r[2], Aliases: splitList(r[3]), Codes: splitList(r[4])}
		if m.ID == "" || m.Name == "" {
			return makeTable{}, fmt.Errorf("%s line %d: empty id or name", name, line)
		}
		if _, ok := Country(m.Country); !ok {
			return makeTable{}, fmt.Errorf("%s line %d: make %s: unknown country %q", name, line, m.ID, m.Country)
		}
		if _, dup := t.byID[m.ID]; dup {
			return makeTable{}, fmt.Errorf("%s line %d: duplicate id %q", name, line, m.ID)
		}
		idx := len(t.all)
		t.byID[m.ID] = idx
		t.all = append(t.all, m)
		for j, s := range slices.Concat([]string{m.Name}, m.Aliases, m.Codes) {
			k := string(nameKey(nil, s, true))
			if k == "" {
				return makeTable{}, fmt.Errorf("%s line %d: make %s: %q has no letters or digits", name, line, m.ID, s)
			}
			if other, ok := t.byKey[k]; ok && other != idx {
				return makeTable{}, fmt.Errorf("%s line %d: %q (key %q) claimed by %s and %s",
					name, line, s, k, t.all[other].ID, m.ID)
			}
			t.byKey[k] = idx
			t.search = append(t.search, searchEntry{key: k, target: idx, canonical: j == 0})
		}
	}
	return t, nil
}

// readCSV reads an embedded CSV file, checks its header and returns the data rows.
func readCSV(name, header string) ([][]string, error) {
	f, err := dataFS.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = strings.Count(header, ",") + 1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != header {
		return nil, fmt.Errorf("parse %s: header must be %s", name, header)
	}
	return rows[1:], nil
}

// Makes returns every make in file order; the slice is the caller's, the alias lists are shared.
func Makes() []Make {
	return slices.Clone(loadMakes().all)
}

// MakeByID returns the make with the given table id.
func MakeByID(id string) (Make, bool) {
	t := loadMakes()
	i, ok := t.byID[id]
	if !ok {
		return Make{}, false
	}
	return t.all[i], true
}

// LookupMake resolves a make as recorded (any listed name, alias, abbreviation, misspelling or
// code, in any case, spacing or punctuation, with or without a corporate suffix).
func LookupMake(s string) (Make, bool) {
	var buf [96]byte
	t := loadMakes()
	i, ok := t.byKey[string(nameKey(buf[:0], s, true))]
	if !ok {
		return Make{}, false
	}
	return t.all[i], true
}

// SearchMakes returns up to limit makes whose names or aliases match q, best first: exact
// matches, then prefixes, then substrings, canonical names before aliases.
func SearchMakes(q string, limit int) []Make {
	var buf [96]byte
	t := loadMakes()
	idx := searchTable(t.search, string(nameKey(buf[:0], q, true)), limit)
	out := make([]Make, len(idx))
	for i, j := range idx {
		out[i] = t.all[j]
	}
	return out
}
