package reference

import (
	"slices"
	"testing"
)

func TestCountriesTable(t *testing.T) {
	all := Countries()
	if len(all) != 249 {
		t.Fatalf("got %d countries, want 249 officially assigned codes", len(all))
	}
	seen := map[string]bool{}
	for i, c := range all {
		if seen[c.Code] {
			t.Errorf("duplicate code %s", c.Code)
		}
		seen[c.Code] = true
		if !slices.Contains(Regions(), c.Region) {
			t.Errorf("%s: region %q not one of %v", c.Code, c.Region, Regions())
		}
		if c.Name == "" {
			t.Errorf("%s: empty name", c.Code)
		}
		if i > 0 && all[i-1].Code >= c.Code {
			t.Errorf("not sorted at %s", c.Code)
		}
	}
}

func TestCountryRegion(t *testing.T) {
	tests := []struct {
		code, region string
		ok           bool
	}{
		{"FR", "europe", true},
		{"KE", "africa", true},
		{"US", "americas", true},
		{"JP", "asia_south_pacific", true},
		{"EG", "mena", true},
		{"AU", "asia_south_pacific", true},
		{"PS", "mena", true},
		{"IR", "mena", true},
		{"RU", "europe", true},
		{"GF", "americas", true},
		{"fr", "", false},
		{"XX", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		c, ok := Country(tt.code)
		if ok != tt.ok || c.Region != tt.region {
			t.Errorf("Country(%q) = %+v, %v; want region %q, %v", tt.code, c, ok, tt.region, tt.ok)
		}
	}
}

func TestRegionsSortedAndCopied(t *testing.T) {
	r := Regions()
	if !slices.IsSorted(r) || len(r) != 5 {
		t.Fatalf("Regions() = %v", r)
	}
	r[0] = "mutated"
	if Regions()[0] != "africa" {
		t.Fatal("Regions() exposes its backing array")
	}
}
