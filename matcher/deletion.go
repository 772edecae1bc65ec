package matcher

import "slices"

// maxDeletions is the edit budget the deletion index serves: any two skeletons within this many
// edits (Damerau, adjacent transpositions counting one) share a string obtained by deleting at
// most this many characters from each (symmetric deletion).
const maxDeletions = 2

// maxDeletionLen bounds the skeletons the deletion index holds (a skeleton of n characters has
// about n*n/2 variants); longer ones are left to the exact tiers and the tries.
const maxDeletionLen = 24

// variantHash hashes a deletion variant. FNV-1a over at most maxFuzzyLen bytes, then mixed so the
// top bits (the directory) are as good as the low ones.
func variantHash(b []byte) uint32 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}

// appendVariants appends the hashes of every string made by deleting up to k characters of s
// (s itself included), without duplicates. Deleting one character of a run gives the same string
// whichever one goes, so only the first of each run is deleted.
func appendVariants(dst []uint32, s []byte, k int) []uint32 {
	start := len(dst)
	var buf [maxFuzzyLen]byte
	dst = append(dst, variantHash(s))
	if k == 0 || len(s) <= 1 {
		return dst
	}
	for i := range s {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		v := append(append(buf[:0], s[:i]...), s[i+1:]...)
		dst = append(dst, variantHash(v))
		if k < 2 || len(v) <= 1 {
			continue
		}
		var buf2 [maxFuzzyLen]byte
		for j := i; j < len(v); j++ {
			if j > i && v[j] == v[j-1] {
				continue
			}
			w := append(append(buf2[:0], v[:j]...), v[j+1:]...)
			dst = append(dst, variantHash(w))
		}
	}
	tail := dst[start:]
	slices.Sort(tail)
	return dst[:start+len(slices.Compact(tail))]
}

// delIndex maps the hash of every deletion variant of every skeleton to its group. The bulk part is
// a bucketed array: a directory over the top hash bits and one uint32 per entry holding a few more
// hash bits (to skip most false matches) and the group id. Four bytes per variant, no pointers.
// Variants of skeletons added after the bulk build go to a small map; when that map outgrows an
// eighth of the bulk part, the owner rebuilds (see Index.maybeRebuild).
type delIndex struct {
	dirBits   uint
	groupBits uint
	dir       []uint32 // bucket b holds ent[dir[b]:dir[b+1]]
	ent       []uint32 // check<<groupBits | group
	extra     map[uint32][]uint32
	extraN    int
}

// build replaces the index with the variants of every skeleton g in 1..count-1 for which
// include(g) holds.
func (d *delIndex) build(count int, skel func(g uint32) []byte, include func(g uint32) bool) {
	d.groupBits = max(bitsFor(uint32(count)), 20)
	d.extra, d.extraN = nil, 0
	// First pass: every variant's hash, group after group, to size the buckets.
	var hashes []uint32
	per := make([]uint16, count)
	for g := uint32(1); g < uint32(count); g++ {
		if !include(g) {
			continue
		}
		n := len(hashes)
		hashes = appendVariants(hashes, skel(g), maxDeletions)
		per[g] = uint16(len(hashes) - n)
	}
	// About eight entries per bucket keeps a probe within one or two cache lines.
	d.dirBits = min(max(bitsFor(uint32(len(hashes)/8)), 10), 28)
	nb := 1 << d.dirBits
	d.dir = make([]uint32, nb+1)
	for _, h := range hashes {
		d.dir[(h>>(32-d.dirBits))+1]++
	}
	for b := 1; b <= nb; b++ {
		d.dir[b] += d.dir[b-1]
	}
	d.ent = make([]uint32, len(hashes))
	fill := make([]uint32, nb)
	copy(fill, d.dir[:nb])
	i := 0
	for g := uint32(1); g < uint32(count); g++ {
		for range per[g] {
			h := hashes[i]
			i++
			b := h >> (32 - d.dirBits)
			d.ent[fill[b]] = d.check(h)<<d.groupBits | g
			fill[b]++
		}
	}
}

// check returns the hash bits stored in an entry: those just below the directory bits (fewer
// when the directory and the group id leave little room, which only adds false candidates).
func (d *delIndex) check(h uint32) uint32 {
	cb := 32 - d.groupBits
	if cb == 0 {
		return 0
	}
	return (h << d.dirBits) >> (32 - cb)
}

// add enters the variants of a skeleton added after the bulk build.
func (d *delIndex) add(g uint32, skel []byte) {
	if d.extra == nil {
		d.extra = make(map[uint32][]uint32)
	}
	var buf [64]uint32
	for _, h := range appendVariants(buf[:0], skel, maxDeletions) {
		d.extra[h] = append(d.extra[h], g)
		d.extraN++
	}
}

// lookup calls f with every group that has a variant hashing to h (and, rarely, a few that only
// share hash bits; the caller verifies).
func (d *delIndex) lookup(h uint32, f func(g uint32)) {
	if d.dir != nil {
		b := h >> (32 - d.dirBits)
		c := d.check(h)
		mask := uint32(1)<<d.groupBits - 1
		for _, e := range d.ent[d.dir[b]:d.dir[b+1]] {
			if e>>d.groupBits == c {
				f(e & mask)
			}
		}
	}
	for _, g := range d.extra[h] {
		f(g)
	}
}

// bytes returns the memory the index holds (the map's share estimated).
func (d *delIndex) bytes() int {
	return 4*(cap(d.dir)+cap(d.ent)) + 48*len(d.extra) + 4*d.extraN
}

// bitsFor returns the number of bits needed to hold n.
func bitsFor(n uint32) uint {
	b := uint(0)
	for n > 0 {
		b++
		n >>= 1
	}
	return b
}
