package matcher

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"AB12*", "AB12345", true},
		{"AB12*", "AB12", true},
		{"AB12*", "AB1", false},
		{"*3456", "AB123456", true},
		{"*3456", "3456", true},
		{"*3456", "34567", false},
		{"AB*56", "AB123456", true},
		{"AB*56", "AB5", false},
		{"A?C", "ABC", true},
		{"A?C", "AC", false},
		{"A*C*E", "AXXCYYE", true},
		{"A*C*E", "AXXCYY", false},
		{"*", "", true},
		{"??", "A", false},
	}
	for _, tt := range tests {
		if got := globMatch([]byte(tt.p), []byte(tt.s)); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

// TestPackSkelOrder checks that packed keys sort as the skeletons do (on their first twelve
// characters) and that a prefix's range holds exactly the keys that start with it.
func TestPackSkelOrder(t *testing.T) {
	skels := [][]byte{[]byte(""), []byte("0"), []byte("1"), []byte("10"), []byte("1A"), []byte("9"),
		[]byte("A"), []byte("A0"), []byte("AY99"), []byte("Y"), []byte("YYYYYYYYYYYY")}
	for i := 1; i < len(skels); i++ {
		a, _ := packSkel(skels[i-1])
		b, _ := packSkel(skels[i])
		if a >= b {
			t.Errorf("pack(%q) = %#x >= pack(%q) = %#x", skels[i-1], a, skels[i], b)
		}
	}
	if _, ok := packSkel([]byte("AO1")); ok {
		t.Errorf("O is not a skeleton character, yet it packed")
	}
	lo, hi, _ := prefixRange([]byte("1"))
	for _, s := range skels {
		k, _ := packSkel(s)
		if in := k >= lo && k < hi; in != bytes.HasPrefix(s, []byte("1")) {
			t.Errorf("%q: in range of prefix 1 = %v", s, in)
		}
	}
}

// TestSkelIndexScan checks prefix scans against a sorted list, with groups in the buffer, in runs
// merged while they are scanned, after a bulk run, and after compaction.
func TestSkelIndexScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var x skelIndex
	x.init()
	var all []string
	add := func(n int, bulk bool) {
		var ks []uint64
		var gs []uint32
		for range n {
			s := Skeleton(fmt.Sprintf("%c%c%d", 'A'+r.IntN(3), 'A'+r.IntN(3), r.IntN(100000)))
			all = append(all, s)
			g := uint32(len(all))
			if bulk {
				k, _ := packSkel([]byte(s))
				ks, gs = append(ks, k), append(gs, g)
				continue
			}
			x.add([]byte(s), g)
			x.settle()
		}
		if bulk {
			x.addBulk(ks, gs)
			x.settle()
		}
	}
	check := func(stage string) {
		for _, p := range []string{"A", "AC", "C3", "AA1", "CE99", ""} {
			lo, hi, _ := prefixRange([]byte(p))
			var got []uint32
			x.scan(lo, hi, func(g uint32, key uint64) bool {
				var buf [packedChars]byte
				if s, _ := unpackSkel(buf[:0], key); string(s) != all[g-1][:min(len(all[g-1]), packedChars)] {
					t.Fatalf("key of group %d unpacks to %q, skeleton %q", g, s, all[g-1])
				}
				got = append(got, g)
				return true
			})
			var want []uint32
			for i, s := range all {
				if len(s) >= len(p) && s[:len(p)] == p {
					want = append(want, uint32(i+1))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: prefix %q: %d groups, want %d", stage, p, len(got), len(want))
			}
		}
	}
	add(500, false)
	check("buffer")
	add(20000, false)
	check("runs and merges")
	add(30000, true)
	check("bulk run")
	x.compact()
	if runs, _ := x.tiers.runs(); runs != 1 {
		t.Fatalf("%d runs after compact", runs)
	}
	check("compacted")
}
