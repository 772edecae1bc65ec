package matcher

import "testing"

func TestNormalizeSerial(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ab-12 34", "AB1234"},
		{"000123", "123"},
		{"0000", "0"},
		{"0", "0"},
		{"", ""},
		{" -/. ", ""},
		{"АВ1234", "AB1234"},  // Cyrillic A and Ve
		{"ΑΒΟ123", "ABO123"},  // Greek Alpha, Beta, Omicron
		{"ео-77", "EO77"},     // Cyrillic small e and o
		{"１２３ＡＢ", "123AB"},    // full-width forms
		{"Ø12", "12"},         // slashed zero is a zero, then trimmed
		{"Ñ-5", "N5"},         // accents dropped
		{"AB0012", "AB0012"},  // only zeros that open the serial are padding
		{"12?4*", "124"},      // wildcards are not part of a recorded serial
		{"БЛ 1234", "BL1234"}, // Cyrillic letters without a look-alike are transliterated
		{"№ 55", "NO55"},      // numero sign
		{"O0123", "O0123"},    // the letter O is kept: only the skeleton folds it
	}
	for _, tt := range tests {
		if got := NormalizeSerial(tt.in); got != tt.want {
			t.Errorf("NormalizeSerial(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeQueryKeepsWildcards(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12?4*", "12?4*"},
		{"12**4", "12*4"},
		{"*-*ab", "*AB"},
		{"00?1", "?1"},
	}
	for _, tt := range tests {
		if got := string(normalize(nil, tt.in, true)); got != tt.want {
			t.Errorf("normalize(%q, wild) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSkeleton(t *testing.T) {
	tests := []struct{ in, want string }{
		{"O0123", "123"},
		{"SB-ZG", "5826"},
		{"IL7", "117"},
		{"DQ1", "1"},
		{"AK47", "AK47"},
		{"Ѕ5", "55"}, // Cyrillic Dze reads as S, then as 5
	}
	for _, tt := range tests {
		if got := Skeleton(tt.in); got != tt.want {
			t.Errorf("Skeleton(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStripEmbedded(t *testing.T) {
	tests := []struct {
		in, want string
		has      bool
	}{
		{"369J257", "369257", true},
		{"AB123C", "AB123C", false},
		{"12AB34C", "1234C", true},
		{"1A?3", "1A?3", false}, // a wildcard neighbour is not a digit
		{"A1B", "A1B", false},
		{"1AB2C3", "123", true},
	}
	for _, tt := range tests {
		if got := string(appendStripEmbedded(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("strip(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := hasEmbedded([]byte(tt.in)); got != tt.has {
			t.Errorf("hasEmbedded(%q) = %v, want %v", tt.in, got, tt.has)
		}
	}
}

func TestFirstConfusion(t *testing.T) {
	tests := []struct{ r, q, pair string }{
		{"AB123", "A8123", "B/8"},
		{"5O1", "S01", "S/5"},
		{"AB1234", "AB1Z34", "Z/2"},
		{"X1", "X1", ""},
		{"ZZ12345", "Z12345", ""}, // a deletion is not a confusion
	}
	for _, tt := range tests {
		if got := firstConfusion([]byte(tt.r), []byte(tt.q)); got != tt.pair {
			t.Errorf("firstConfusion(%q, %q) = %q, want %q", tt.r, tt.q, got, tt.pair)
		}
	}
}
