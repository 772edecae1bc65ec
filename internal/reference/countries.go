package reference

import (
	"embed"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"sync"
)

//go:embed data/*.csv
var dataFS embed.FS

// CountryInfo is one ISO 3166-1 alpha-2 entry with the INTERPOL region used as its default shard.
type CountryInfo struct {
	Code   string
	Name   string
	Region string
}

// regionNames are the INTERPOL regions, sorted; they name the default shards.
var regionNames = []string{"africa", "americas", "asia_south_pacific", "europe", "mena"}

type countryTable struct {
	byCode map[string]CountryInfo
	sorted []CountryInfo
}

var (
	countriesOnce sync.Once
	countries     countryTable
)

// loadCountries parses the embedded file once; a broken file is a build defect, so it panics
// (the tests parse the same file and would fail first).
func loadCountries() countryTable {
	countriesOnce.Do(func() {
		t, err := parseCountries("data/countries.csv")
		if err != nil {
			panic(fmt.Sprintf("reference: %v", err))
		}
		countries = t
	})
	return countries
}

func parseCountries(name string) (countryTable, error) {
	f, err := dataFS.Open(name)
	if err != nil {
		return countryTable{}, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return countryTable{}, fmt.Errorf("parse %s: %w", name, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "code,name,region" {
		return countryTable{}, fmt.Errorf("parse %s: header must be code,name,region", name)
	}
	t := countryTable{byCode: make(map[string]CountryInfo, len(rows)-1)}
	for i, r := range rows[1:] {
		c := CountryInfo{Code: r[0], Name: r[1], Region: r[2]}
		if len(c.Code) != 2 || strings.ToUpper(c.Code) != c.Code {
			return countryTable{}, fmt.Errorf("parse %s line %d: bad code %q", name, i+2, c.Code)
		}
		if !slices.Contains(regionNames, c.Region) {
			return countryTable{}, fmt.Errorf("parse %s line %d: bad region %q", name, i+2, c.Region)
		}
		if _, dup := t.byCode[c.Code]; dup {
			return countryTable{}, fmt.Errorf("parse %s line %d: duplicate code %q", name, i+2, c.Code)
		}
		t.byCode[c.Code] = c
		t.sorted = append(t.sorted, c)
	}
	slices.SortFunc(t.sorted, func(a, b CountryInfo) int { return strings.Compare(a.Code, b.Code) })
	return t, nil
}

// Country returns the entry for an exact upper-case alpha-2 code.
func Country(code string) (CountryInfo, bool) {
	c, ok := loadCountries().byCode[code]
	return c, ok
}

// Countries returns every country sorted by code; the caller owns the returned slice.
func Countries() []CountryInfo {
	return slices.Clone(loadCountries().sorted)
}

// Regions returns the five INTERPOL regions (the default shards), sorted.
func Regions() []string {
	return slices.Clone(regionNames)
}
