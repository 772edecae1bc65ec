package reference

import (
	"fmt"
	"slices"
	"sync"
)

// Calibre is one equivalence class of calibre designations (every alias names the same
// cartridge) with the ids of related but distinct classes, such as 5.56x45 NATO and .223 Remington.
type Calibre struct {
	ID      string
	Name    string
	Aliases []string
	Close   []string
}

// Relation says how two recorded calibres relate once resolved to their classes.
type Relation int

// The zero Relation is Unknown so that an unset value never claims a match.
const (
	Unknown   Relation = iota // either side is not in the table
	Different                 // both known, unrelated classes
	Close                     // both known, classes listed as related
	Same                      // both resolve to one class
)

// String names the relation for logs and match explanations.
func (r Relation) String() string {
	switch r {
	case Same:
		return "same"
	case Close:
		return "close"
	case Different:
		return "different"
	default:
		return "unknown"
	}
}

type calibreTable struct {
	all    []Calibre
	byID   map[string]int
	byKey  map[string]int
	close  map[[2]int]bool // both orders present
	search []searchEntry
}

var (
	calibresOnce sync.Once
	calibres     calibreTable
)

func loadCalibres() *calibreTable {
	calibresOnce.Do(func() {
		t, err := parseCalibres("data/calibres.csv")
		if err != nil {
			panic(fmt.Sprintf("reference: %v", err))
		}
		calibres = t
	})
	return &calibres
}

func parseCalibres(name string) (calibreTable, error) {
	rows, err := readCSV(name, "id,name,aliases,close")
	if err != nil {
		return calibreTable{}, err
	}
	t := calibreTable{byID: map[string]int{}, byKey: map[string]int{}, close: map[[2]int]bool{}}
	for i, r := range rows {
		line := i + 2
		c := Calibre{ID: r[0], Name: r[1], Aliases: splitList(r[2]), Close: splitList(r[3])}
		if c.ID == "" || c.Name == "" {
			return calibreTable{}, fmt.Errorf("%s line %d: empty id or name", name, line)
		}
		if _, dup := t.byID[c.ID]; dup {
			return calibreTable{}, fmt.Errorf("%s line %d: duplicate id %q", name, line, c.ID)
		}
		idx := len(t.all)
		t.byID[c.ID] = idx
		t.all = append(t.all, c)
		for j, s := range slices.Concat([]string{c.Name}, c.Aliases) {
			k := string(calibreKey(nil, s))
			if k == "" {
				return calibreTable{}, fmt.Errorf("%s line %d: calibre %s: %q has no letters or digits", name, line, c.ID, s)
			}
			if other, ok := t.byKey[k]; ok && other != idx {
				return calibreTable{}, fmt.Errorf("%s line %d: %q (key %q) claimed by %s and %s",
					name, line, s, k, t.all[other].ID, c.ID)
			}
			t.byKey[k] = idx
			t.search = append(t.search, searchEntry{key: k, target: idx, canonical: j == 0})
		}
	}
	// Close links are written on either side in the file; make them symmetric here so the data
	// file need not repeat each one.
	for i := range t.all {
		for _, id := range t.all[i].Close {
			j, ok := t.byID[id]
			if !ok {
				return calibreTable{}, fmt.Errorf("%s: calibre %s: close id %q not in table", name, t.all[i].ID, id)
			}
			if j == i {
				return calibreTable{}, fmt.Errorf("%s: calibre %s: close to itself", name, id)
			}
			t.close[[2]int{i, j}] = true
			t.close[[2]int{j, i}] = true
		}
	}
	for i := range t.all {
		var ids []string
		for j := range t.all {
			if t.close[[2]int{i, j}] {
				ids = append(ids, t.all[j].ID)
			}
		}
		t.all[i].Close = ids
	}
	return t, nil
}

// Calibres returns every calibre class in file order; the slice is the caller's, the alias
// lists are shared.
func Calibres() []Calibre {
	return slices.Clone(loadCalibres().all)
}

// CalibreByID returns the class with the given table id.
func CalibreByID(id string) (Calibre, bool) {
	t := loadCalibres()
	i, ok := t.byID[id]
	if !ok {
		return Calibre{}, false
	}
	return t.all[i], true
}

func (t *calibreTable) index(s string) (int, bool) {
	var buf [64]byte
	i, ok := t.byKey[string(calibreKey(buf[:0], s))]
	return i, ok
}

// LookupCalibre resolves a calibre as recorded to its equivalence class.
func LookupCalibre(s string) (Calibre, bool) {
	t := loadCalibres()
	i, ok := t.index(s)
	if !ok {
		return Calibre{}, false
	}
	return t.all[i], true
}

// SearchCalibres returns up to limit classes whose names or aliases match q, best first.
func SearchCalibres(q string, limit int) []Calibre {
	var buf [64]byte
	t := loadCalibres()
	idx := searchTable(t.search, string(calibreKey(buf[:0], q)), limit)
	out := make([]Calibre, len(idx))
	for i, j := range idx {
		out[i] = t.all[j]
	}
	return out
}

// CalibreRelation compares two calibres as recorded.
func CalibreRelation(a, b string) Relation {
	t := loadCalibres()
	i, ok := t.index(a)
	if !ok {
		return Unknown
	}
	j, ok := t.index(b)
	switch {
	case !ok:
		return Unknown
	case i == j:
		return Same
	case t.close[[2]int{i, j}]:
		return Close
	default:
		return Different
	}
}
