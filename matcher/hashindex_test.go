package matcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHashIndexMatchesMap checks the log-structured multimap against a plain map at every stage
// of its life: entries in the mutable buffer, frozen runs, merges half done, and one compacted
// run large enough that keys keep fewer than 16 bits beside the value. Keys come from a small
// space so that many keys carry several values, with both flag values. Every entry carries a
// position byte (a function of its value), and a lookup filtered by a random mask must return
// exactly the values whose byte the mask takes: bytes stay with their entries through freezes,
// runs and merges. Every value carries a make tag too (the index is tagged): a lookup for a
// random make must turn away no value whose tag matches it, count every value it turns away,
// and in one run keeping tag bits turn away exactly those whose kept bits show another make.
func TestHashIndexMatchesMap(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		bulk     bool // enter entries as runs (PutMany) rather than one by one (Put)
		compact  bool
		keySpace uint32
		tagBits  uint // the tag bits the one run left keeps (compacted only)
	}{
		{"buffer only", 1000, false, false, 200, 0},
		{"several runs, merges in progress", 3 * bufferEntries / 2, false, false, 1 << 20, 0},
		{"many runs, then compacted", 5 * bufferEntries, false, true, 1 << 22, 1},
		{"bulk runs large enough for short lo", 3 << 20, true, true, 1 << 30, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tt.n), 9))
			var x hashIndex
			x.init(true, true)
			posOf := func(v uint32) uint8 { return uint8(v * 2654435761 >> 24) }
			want := map[uint32][]uint32{}
			var bulk []uint64
			var bulkPos []uint8
			for i := range tt.n {
				k := r.Uint32N(tt.keySpace) * 0x9e3779b1 // spread over all 32 bits
				v := (1+r.Uint32N(anyMake))<<tagBits | uint32(i)
				want[k] = append(want[k], v)
				if tt.bulk {
					bulk = append(bulk, uint64(k)<<32|uint64(v))
					bulkPos = append(bulkPos, posOf(v))
					if len(bulk) == 1<<20 {
						x.addEntries(bulk, bulkPos)
						x.settle()
						bulk, bulkPos = nil, nil
					}
					continue
				}
				x.add(k, v, posOf(v))
				x.settle()
			}
			x.addEntries(bulk, bulkPos)
			x.settle()
			var only *hashRun // the one run of a compacted index
			if tt.compact {
				x.compact()
				if runs, merging := x.tiers.runs(); runs != 1 || merging != 0 || len(x.key) != 0 {
					t.Fatalf("after compact: %d runs, %d merges, %d buffered", runs, merging, len(x.key))
				}
				x.tiers.each(func(r *hashRun) { only = r })
				if tb := only.loTagBits(); tb != tt.tagBits {
					t.Fatalf("the run keeps %d tag bits, want %d", tb, tt.tagBits)
				}
			}
			otherMake := 0
			if x.size() != tt.n {
				t.Fatalf("size %d, want %d", x.size(), tt.n)
			}
			checked := 0
			for k, vs := range want {
				if checked++; checked > 20000 {
					break
				}
				for _, accept := range []uint32{1, 2, 3} {
					var exp []uint32
					for _, v := range vs {
						if k|1 == k && accept&2 != 0 || k|1 != k && accept&1 != 0 {
							exp = append(exp, v)
						}
					}
					for _, other := range want[k^1] {
						if k^1 == k|1 && accept&2 != 0 || k^1 != k|1 && accept&1 != 0 {
							exp = append(exp, other)
						}
					}
					got := x.lookup(nil, k&^1, accept)
					slices.Sort(got)
					slices.Sort(exp)
					if !slices.Equal(got, exp) {
						t.Fatalf("key %#x accept %d: got %d values, want %d", k, accept, len(got), len(exp))
					}
					f := posFilter{any: uint8(r.Uint32())}
					mask := f.any
					var ls lookupScratch
					got = x.lookupBatch(nil, []uint32{k &^ 1}, accept, []posFilter{f}, anyMake, &ls)
					exp = slices.DeleteFunc(exp, func(v uint32) bool { p := posOf(v); return p != posNone && mask>>(p&7)&1 == 0 })
					slices.Sort(got)
					if !slices.Equal(got, exp) || ls.passed != len(want[k])+len(want[k^1])-len(exp) && accept == 3 {
						t.Fatalf("key %#x accept %d mask %#x: got %d values, want %d (%d passed over)", k, accept, mask,
							len(got), len(exp), ls.passed)
					}
					q := 1 + r.Uint32N(anyMake)
					ls = lookupScratch{}
					got = x.lookupBatch(nil, []uint32{k &^ 1}, accept, []posFilter{f}, q, &ls)
					slices.Sort(got)
					otherMake += ls.otherMake
					if len(got)+ls.otherMake != len(exp) {
						t.Fatalf("key %#x make %d: %d values taken and %d turned away of %d", k, q, len(got), ls.otherMake, len(exp))
					}
					for _, v := range exp {
						taken := slices.Contains(got, v)
						if tagMatches(v>>tagBits, q) && !taken {
							t.Fatalf("key %#x make %d: value %#x of make %d turned away", k, q, v, v>>tagBits)
						}
						if only != nil {
							m := uint32(1)<<only.loTagBits() - 1
							kept := q == anyMake || v>>tagBits&m == q&m || v>>tagBits&m == m
							if taken != kept {
								t.Fatalf("key %#x make %d, %d tag bits: value %#x of make %d taken %v", k, q, only.loTagBits(), v, v>>tagBits, taken)
							}
						}
					}
				}
			}
			if tt.tagBits > 0 && otherMake == 0 {
				t.Fatal("no value was turned away by its make: the test checks nothing the tag bits do")
			}
		})
	}
}

// TestHashRowsLifecycle checks the incrementally rehashed key table through growth, removal and
// reinsertion, against a map.
func TestHashRowsLifecycle(t *testing.T) {
	var h hashRows
	h.init()
	keys := map[string]uint32{}
	keyOf := func(row uint32) []byte { return []byte(fmt.Sprintf("key-%d", row)) }
	r := rand.New(rand.NewPCG(4, 4))
	for row := uint32(0); row < 60000; row++ {
		k := keyOf(row)
		h.insert(k, hash64(k), row)
		keys[string(k)] = row
		if r.IntN(3) == 0 { // remove a random earlier key
			victim := r.Uint32N(row + 1)
			vk := keyOf(victim)
			if _, ok := keys[string(vk)]; ok {
				h.remove(vk, hash64(vk), victim)
				delete(keys, string(vk))
			}
		}
		if row%997 == 0 {
			for k, want := range keys {
				got, ok := h.find([]byte(k), hash64([]byte(k)), keyOf)
				if !ok || got != want {
					t.Fatalf("after %d inserts: %s -> %d %v, want %d", row, k, got, ok, want)
				}
				break
			}
		}
	}
	if h.len() != len(keys) {
		t.Fatalf("len %d, want %d", h.len(), len(keys))
	}
	for row := uint32(0); row < 60000; row++ {
		k := keyOf(row)
		got, ok := h.find(k, hash64(k), keyOf)
		want, present := keys[string(k)]
		if ok != present || ok && got != want {
			t.Fatalf("%s: got %d %v, want %d %v", k, got, ok, want, present)
		}
	}
}
