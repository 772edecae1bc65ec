package reference

import (
	"testing"
)

func TestMakesTableParses(t *testing.T) {
	tab, err := parseMakes("data/makes.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.all) < 150 {
		t.Errorf("got %d makes, want at least 150", len(tab.all))
	}
	for _, m := range tab.all {
		if _, ok := Country(m.Country); !ok {
			t.Errorf("make %s: country %q not in countries.csv", m.ID, m.Country)
		}
		got, ok := LookupMake(m.Name)
		if !ok || got.ID != m.ID {
			t.Errorf("LookupMake(%q) = %s, %v; want its own make %s", m.Name, got.ID, ok, m.ID)
		}
		for _, a := range append(append([]string{}, m.Aliases...), m.Codes...) {
			if got, ok := LookupMake(a); !ok || got.ID != m.ID {
				t.Errorf("alias %q of %s resolves to %q, %v", a, m.ID, got.ID, ok)
			}
		}
	}
}

func TestLookupMake(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"S&W", "smith_wesson"},
		{"s & w", "smith_wesson"},
		{"smith&wesson", "smith_wesson"},
		{"Smith and Wesson", "smith_wesson"},
		{"SMITH & WESSON", "smith_wesson"},
		{"SW", "smith_wesson"},
		{"Smith Wesson", "smith_wesson"},
		{"Smith & Wesson Inc.", "smith_wesson"},
		{"HK", "hk"},
		{"H&K", "hk"},
		{"h & k", "hk"},
		{"Heckler und Koch", "hk"},
		{"Heckler Koch", "hk"},
		{"Heckler & Koch GmbH", "hk"},
		{"Glock", "glock"},
		{"GLOCK GmbH", "glock"},
		{"Glock Inc", "glock"},
		{"Glock, Inc.", "glock"},
		{"Izhmash", "kalashnikov"},
		{"Ижмаш", "kalashnikov"},
		{"ИЖМАШ", "kalashnikov"},
		{"Kalashnikov Concern", "kalashnikov"},
		{"Байкал", "izhmekh"},
		{"Makarov", "izhmekh"},
		{"Zastava", "zastava"},
		{"Norinco", "norinco"},
		{"Cugir", "cugir"},
		{"Arsenal", "arsenal_bg"},
		{"FEG", "feg"},
		{"FÉG", "feg"},
		{"Anschütz", "anschutz"},
		{"ANSCHUTZ", "anschutz"},
		{"Sarsılmaz", "sarsilmaz"},
		{"Česká zbrojovka", "cz"},
		{"ceska zbrojovka", "cz"},
		{"Sturm, Ruger & Co.", "ruger"},
		{"Ruger", "ruger"},
		{"Colt's", "colt"},
		{"Savage Arms Inc", "savage"},
		{"FN Herstal", "fn"},
		{"Vepr", "molot"},
		{"TT", "tula"},
		{"Khyber Pass", "darra"},
		{"byf", "mauser"},
		{"66", "norinco"},
	}
	for _, tt := range tests {
		got, ok := LookupMake(tt.in)
		if !ok || got.ID != tt.want {
			t.Errorf("LookupMake(%q) = %q, %v; want %q", tt.in, got.ID, ok, tt.want)
		}
	}
}

func TestLookupMakeUnknown(t *testing.T) {
	for _, in := range []string{"", "   ", "&", "Acme Death Ray Co", "unknown", "Inc"} {
		if got, ok := LookupMake(in); ok {
			t.Errorf("LookupMake(%q) = %s, want no match", in, got.ID)
		}
	}
}

func TestSearchMakes(t *testing.T) {
	tests := []struct {
		q       string
		limit   int
		wantTop string
		wantAll []string
	}{
		{"glock", 5, "glock", nil},
		{"glo", 5, "glock", nil},
		{"S&W", 3, "smith_wesson", nil},
		{"wesson", 10, "", []string{"smith_wesson", "dan_wesson"}},
		{"bere", 3, "beretta", nil},
		{"ижм", 3, "kalashnikov", nil},
	}
	for _, tt := range tests {
		got := SearchMakes(tt.q, tt.limit)
		if len(got) > tt.limit {
			t.Errorf("SearchMakes(%q, %d) returned %d", tt.q, tt.limit, len(got))
		}
		if tt.wantTop != "" && (len(got) == 0 || got[0].ID != tt.wantTop) {
			t.Errorf("SearchMakes(%q) top = %v, want %s", tt.q, ids(got), tt.wantTop)
		}
		for _, w := range tt.wantAll {
			if !containsID(got, w) {
				t.Errorf("SearchMakes(%q) = %v, missing %s", tt.q, ids(got), w)
			}
		}
	}
	if got := SearchMakes("", 10); len(got) != 0 {
		t.Errorf("empty query returned %d makes", len(got))
	}
	if got := SearchMakes("zzzzqqq", 10); len(got) != 0 {
		t.Errorf("nonsense query returned %v", ids(got))
	}
}

func ids(ms []Make) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func containsID(ms []Make, id string) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}

func BenchmarkLookupMake(b *testing.B) {
	inputs := []string{"Smith & Wesson", "H&K", "GLOCK GmbH", "Ижмаш", "Acme Death Ray Co"}
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			LookupMake(inputs[i%len(inputs)])
		}
	})
	// The naive baseline scans every name and alias with a case-insensitive compare, as a
	// first version without precomputed keys would.
	b.Run("naive-scan", func(b *testing.B) {
		b.ReportAllocs()
		all := Makes()
		for i := 0; b.Loop(); i++ {
			naiveLookupMake(all, inputs[i%len(inputs)])
		}
	})
}

func naiveLookupMake(all []Make, s string) (Make, bool) {
	k := string(nameKey(nil, s, true))
	for _, m := range all {
		if string(nameKey(nil, m.Name, true)) == k {
			return m, true
		}
		for _, a := range m.Aliases {
			if string(nameKey(nil, a, true)) == k {
				return m, true
			}
		}
	}
	return Make{}, false
}
