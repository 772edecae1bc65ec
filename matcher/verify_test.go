package matcher

import "testing"

func TestAlign(t *testing.T) {
	tests := []struct {
		r, q              string
		edits, confusions int
	}{
		{"AB123456", "AB123456", 0, 0},
		{"AB123456", "A8123456", 0, 1},
		{"AB123456", "A8I23456", 0, 2},
		{"AB123456", "AB123457", 1, 0},
		{"AB123456", "AB124356", 1, 0}, // transposition
		{"AB123456", "AB12356", 1, 0},  // deletion
		{"AB123456", "AB1234567", 1, 0},
		{"AB123456", "AB12?456", 0, 0},
		{"AB123456", "AB*56", 0, 0},
		{"AB123456", "*3456", 0, 0},
		{"AB123456", "A*", 0, 0},
		{"AB123456", "8A123456", 1, 1}, // transposed then a confusion is cheaper than two edits
		{"O123", "123", 0, 0},          // leading O is padding, like a leading zero
		{"AB123456", "XY123456", 2, 0},
	}
	for _, tt := range tests {
		got := align([]byte(tt.r), []byte(tt.q))
		if got.edits != tt.edits || got.confusions != tt.confusions {
			t.Errorf("align(%s, %s) = %+v, want edits=%d confusions=%d", tt.r, tt.q, got, tt.edits, tt.confusions)
		}
	}
}

// TestAlignSameSkeleton checks the positional fast path against the full alignment on pairs
// with equal skeletons: confusable letters swapped, leading zeros added, '?' in the query.
func TestAlignSameSkeleton(t *testing.T) {
	tests := []struct{ r, q string }{
		{"AB123456", "AB123456"},
		{"AB123456", "A8I23456"},
		{"OO123", "0123"},
		{"SZ5", "52S"},
		{"BG60", "8G6O"},
		{"AB123456", "AB12?456"},
		{"0012", "12"},
		{"D0I", "O01"},
	}
	for _, tt := range tests {
		r, q := []byte(tt.r), normalize(nil, tt.q, true)
		got, want := alignSameSkeleton(r, q), align(r, q)
		if got != want {
			t.Errorf("alignSameSkeleton(%s, %s) = %+v, align says %+v", tt.r, tt.q, got, want)
		}
	}
}
