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

// appendVariants appends the hashes of every string made by deleting up to k characters of s,
// without duplicates: s itself, then the one-deletion variants, then the two-deletion ones.
// Deleting one character of a run gives the same string whichever goes, so only the first of
// each run is deleted.
func appendVariants(dst []uint32, s []byte, k int) []uint32 {
	dst = append(dst, variantHash(s))
	if k == 0 || len(s) <= 1 {
		return dst
	}
	var buf [maxFuzzyLen]byte
	for i := range s {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		dst = append(dst, variantHash(append(append(buf[:0], s[:i]...), s[i+1:]...)))
	}
	level2 := len(dst) // one-deletion variants are distinct: only runs collide, and those were skipped
	if k < 2 || len(s) <= 2 {
		return dst
	}
	for i := range s {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		v := append(append(buf[:0], s[:i]...), s[i+1:]...)
		var buf2 [maxFuzzyLen]byte
		for j := i; j < len(v); j++ {
			if j > i && v[j] == v[j-1] {
				continue
			}
			dst = append(dst, variantHash(append(append(buf2[:0], v[:j]...), v[j+1:]...)))
		}
	}
	tail := dst[level2:]
	slices.Sort(tail)
	return dst[:level2+len(slices.Compact(tail))]
}

// The metadata of a deletion-index entry is the make tag of its group: 1 to 62 for the one make
// its serials' records carry (a hash of it), anyMake when they carry several or none. A query that names a make looks for misread serials among
// that make only (another make's record ranks below every record of the query's make, and can
// never be a HIT), and the tag lets it skip the others without touching their groups: at 1.4M
// records this checks about five times fewer groups. Serials of other makes are still found by
// the exact tiers, for REVIEW.
const (
	deletionMetaBits = 6
	anyMake          = 63
	noTag            = 0 // a group with no serial yet
)

// makeTag is the tag of an interned make; a record without a make matches every query.
func makeTag(mk uint32) uint8 {
	if mk == none {
		return anyMake
	}
	return uint8(1 + hash32(mk)%62)
}

// joinTag is the tag of a group after a serial with tag t joins it.
func joinTag(cur, t uint8) uint8 {
	if cur == noTag || cur == t {
		return t
	}
	return anyMake
}

// tagMatches reports whether an entry with tag e may hold a record of the query's make tag q.
func tagMatches(e, q uint32) bool { return e == q || e == anyMake || q == anyMake }

// deletionKeys appends the deletion-index keys of a skeleton and their metadata (tag is the
// group's make tag): its variants when it is short enough to have few, none otherwise.
func deletionKeys(dst []uint32, meta []uint8, skel []byte, tag uint8) ([]uint32, []uint8) {
	if len(skel) == 0 || len(skel) > maxDeletionLen {
		return dst, meta
	}
	start := len(dst)
	dst = appendVariants(dst, skel, maxDeletions)
	for range len(dst) - start {
		meta = append(meta, tag)
	}
	return dst, meta
}
