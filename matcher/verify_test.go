package matcher

import (
	"math/rand/v2"
	"slices"
	"testing"
)

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

// TestAlignQuick checks the positional fast path against the full alignment: equal skeletons
// (confusable letters swapped, leading zeros added, '?' in the query), one substitution, and the
// cases it must hand to align (transpositions, two edits, other lengths).
func TestAlignQuick(t *testing.T) {
	tests := []struct{ r, q string }{
		{"AB123456", "AB123456"},
		{"AB123456", "A8I23456"},
		{"OO123", "0123"},
		{"SZ5", "52S"},
		{"BG60", "8G6O"},
		{"AB123456", "AB12?456"},
		{"0012", "12"},
		{"D0I", "O01"},
		{"AB123456", "AB123457"},
		{"AB123456", "A8123457"},
		{"AB123456", "AB124356"},
		{"AB123456", "8A123456"},
		{"AB123456", "XY123456"},
		{"AB123456", "AB12356"},
		{"AB123456", "?B12345X"},
	}
	for _, tt := range tests {
		r, q := []byte(tt.r), normalize(nil, tt.q, true)
		got, want := alignQuick(r, q), align(r, q)
		if got != want {
			t.Errorf("alignQuick(%s, %s) = %+v, align says %+v", tt.r, tt.q, got, want)
		}
	}
}

// TestAlignQuickAgreesWithAlign compares the two on many random serials and misreadings of them.
func TestAlignQuickAgreesWithAlign(t *testing.T) {
	const alphabet = "0123456789ABDGILOQSZX?"
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		a := make([]byte, 1+r.IntN(10))
		for i := range a {
			a[i] = alphabet[r.IntN(len(alphabet)-1)]
		}
		q := slices.Clone(a)
		for range r.IntN(4) {
			i := r.IntN(len(q))
			switch r.IntN(4) {
			case 0, 1:
				q[i] = alphabet[r.IntN(len(alphabet))]
			case 2:
				if i+1 < len(q) {
					q[i], q[i+1] = q[i+1], q[i]
				}
			case 3:
				q = append(q[:i], q[i+1:]...)
				if len(q) == 0 {
					q = append(q, '7')
				}
			}
		}
		if got, want := alignQuick(a, q), align(a, q); got != want {
			t.Fatalf("alignQuick(%s, %s) = %+v, align says %+v", a, q, got, want)
		}
	}
}
