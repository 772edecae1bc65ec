package reference

import (
	"slices"
	"testing"
)

func TestCalibresTableParses(t *testing.T) {
	tab, err := parseCalibres("data/calibres.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.all) < 100 {
		t.Errorf("got %d calibre classes, want at least 100", len(tab.all))
	}
	for _, c := range tab.all {
		for _, a := range append([]string{c.Name}, c.Aliases...) {
			if got, ok := LookupCalibre(a); !ok || got.ID != c.ID {
				t.Errorf("alias %q of %s resolves to %q, %v", a, c.ID, got.ID, ok)
			}
		}
		for _, id := range c.Close {
			other, ok := CalibreByID(id)
			if !ok {
				t.Errorf("%s: close id %q unknown", c.ID, id)
				continue
			}
			if !slices.Contains(other.Close, c.ID) {
				t.Errorf("close link %s -> %s is not symmetric", c.ID, id)
			}
		}
	}
}

func TestLookupCalibre(t *testing.T) {
	tests := []struct{ in, want string }{
		{"9x19", "9x19"}, {"9mm Luger", "9x19"}, {"9mm Parabellum", "9x19"}, {"9mm Para", "9x19"},
		{"9 mm NATO", "9x19"}, {"9 MM X 19", "9x19"}, {"9×19mm", "9x19"}, {"9mm", "9x19"},
		{".45 ACP", "45acp"}, {".45 Auto", "45acp"}, {"11.43x23", "45acp"}, {"45 ACP", "45acp"},
		{".45 cal", "45acp"}, {".380 ACP", "380acp"}, {"9mm Short", "380acp"}, {"9mm Kurz", "380acp"},
		{"9x17", "380acp"}, {"7.62x39", "762x39"}, {"7.62 Soviet", "762x39"}, {"7,62x39", "762x39"},
		{"7.62x54R", "762x54r"}, {"7.62 x 54 R", "762x54r"}, {"12 gauge", "12ga"}, {"12 ga", "12ga"},
		{"12/70", "12ga"}, {"12GA", "12ga"}, {"5.56 NATO", "556x45"}, {".223 Rem", "223rem"},
		{".22 LR", "22lr"}, {"22 l.r.", "22lr"}, {".30-06", "3006"}, {"6.5x54 Mannlicher-Schonauer", "65x54ms"},
	}
	for _, tt := range tests {
		got, ok := LookupCalibre(tt.in)
		if !ok || got.ID != tt.want {
			t.Errorf("LookupCalibre(%q) = %q, %v; want %q", tt.in, got.ID, ok, tt.want)
		}
	}
	for _, in := range []string{"", "unknown", "n/a", "9x99 Wildcat"} {
		if got, ok := LookupCalibre(in); ok {
			t.Errorf("LookupCalibre(%q) = %s, want no match", in, got.ID)
		}
	}
}

func TestCalibreRelation(t *testing.T) {
	tests := []struct {
		a, b string
		want Relation
	}{
		{"9mm Luger", "9x19 Parabellum", Same},
		{".45 ACP", ".45 Auto", Same},
		{"9mm Kurz", ".380 ACP", Same},
		{"5.56x45 NATO", ".223 Remington", Close},
		{".223 Rem", "5.56", Close},
		{"7.62x51 NATO", ".308 Win", Close},
		{".308", "7.62 NATO", Close},
		{".38 Special", ".357 Magnum", Close},
		{"9x19", "7.62x39", Different},
		{"7.62x39", "7.62x54R", Different},
		{"12 gauge", "20 gauge", Different},
		{"9x19", "unknown", Unknown},
		{"", "9x19", Unknown},
	}
	for _, tt := range tests {
		if got := CalibreRelation(tt.a, tt.b); got != tt.want {
			t.Errorf("CalibreRelation(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := CalibreRelation(tt.b, tt.a); got != tt.want {
			t.Errorf("CalibreRelation(%q, %q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestSearchCalibres(t *testing.T) {
	tests := []struct {
		q       string
		wantTop string
	}{
		{"9x19", "9x19"},
		{"7.62x3", "762x39"},
		{"makarov", "9x18"},
		{"12 ga", "12ga"},
	}
	for _, tt := range tests {
		got := SearchCalibres(tt.q, 5)
		if len(got) == 0 || got[0].ID != tt.wantTop {
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			t.Errorf("SearchCalibres(%q) = %v, want %s first", tt.q, ids, tt.wantTop)
		}
	}
}

func TestRelationString(t *testing.T) {
	for r, want := range map[Relation]string{Same: "same", Close: "close", Different: "different", Unknown: "unknown"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", r, r.String(), want)
		}
	}
}

func BenchmarkCalibreRelation(b *testing.B) {
	pairs := [][2]string{{"9mm Luger", "9x19"}, {".223 Rem", "5.56 NATO"}, {"12 ga", ".410"}, {"foo", "9x19"}}
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p := pairs[i%len(pairs)]
			CalibreRelation(p[0], p[1])
		}
	})
	b.Run("naive-scan", func(b *testing.B) {
		b.ReportAllocs()
		all := Calibres()
		find := func(s string) string {
			k := string(calibreKey(nil, s))
			for _, c := range all {
				for _, a := range append([]string{c.Name}, c.Aliases...) {
					if string(calibreKey(nil, a)) == k {
						return c.ID
					}
				}
			}
			return ""
		}
		for i := 0; b.Loop(); i++ {
			p := pairs[i%len(pairs)]
			_ = find(p[0]) == find(p[1])
		}
	})
}
