package matcher

import (
	"math/rand/v2"
	"testing"
)

func TestOSAWithinAgreesWithFullDP(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	serials := testSerials(300, 3)
	for i := range 5000 {
		a := []byte(Skeleton(serials[r.IntN(len(serials))]))
		b := []byte(Skeleton(corrupt(r, string(a), r.IntN(4))))
		if i%7 == 0 && len(b) > 2 {
			b[r.IntN(len(b))] = '?'
		}
		for k := 0; k <= 2; k++ {
			want := min(osa(a, b), k+1)
			if got := osaWithin(a, b, k); got != want {
				t.Fatalf("osaWithin(%s, %s, %d) = %d, want %d", a, b, k, got, want)
			}
		}
	}
}

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
