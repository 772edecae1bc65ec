package matcher

import "slices"

// maxDeletions is the edit budget the deletion index serves: any two skeletons within this many
// edits (Damerau, adjacent transpositions counting one) share a string obtained by deleting at
// most this many characters from each (symmetric deletion).
const maxDeletions = 2

// maxDeletionLen bounds the skeletons the deletion index holds (a skeleton of n characters has
// about n*n/2 variants); longer ones are left to the exact tiers and the wildcard index.
const maxDeletionLen = 24

// maxVariants is the most variants appendVariants returns for a string of maxDeletionLen.
const maxVariants = 1 + maxDeletionLen + maxDeletionLen*(maxDeletionLen-1)/2

// maxIndexedGroup bounds the group ids the deletion index can hold (26 bits beside a 6-bit make
// tag). Groups past it, which would take 67 million distinct skeletons, are found by the exact
// tiers only.
const maxIndexedGroup = 1<<26 - 1

// Keys of the deletion index: the hash of a variant with its low bit set when the variant deletes
// two characters. Two skeletons within one edit share a variant that deletes at most one
// character from each, so a search for one edit accepts only keys with the bit clear and skips
// most of what the index holds for two.
const (
	flagOneDel   = 1 // accept mask: variants of zero or one deletion
	flagTwoDel   = 2 // accept mask: variants of two deletions
	flagAnyDel   = flagOneDel | flagTwoDel
	twoDelKeyBit = 1
)

// variantPrime is the base of the polynomial hash that lets every deletion variant of a string be
// hashed in constant time from prefix hashes, without building the variant.
const variantPrime = 0x100000001b3

// mixVariant finishes a polynomial hash of a string of length n into a key with its low bit clear.
func mixVariant(h uint64, n int) uint32 {
	h ^= uint64(n) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h) &^ 1
}

// appendVariants appends the keys of every string made by deleting up to k (at most 2) characters
// of s (at most maxDeletionLen long): s itself, then the one-deletion variants, then from index
// level2 on the two-deletion ones (with twoDelKeyBit set). Deleting one character of a run gives
// the same string whichever goes, so only the first of each run is deleted; the two-deletion
// variants can still repeat (deleting either "12" of "1212" leaves "12"), which dedup removes
// (a query probes each key once; the index keeps the 1.3% duplicates rather than sort every
// skeleton's variants).
func appendVariants(dst []uint32, s []byte, k int, dedup bool) (out []uint32, level2 int) {
	n := len(s)
	var pre, pw [maxDeletionLen + 2]uint64
	pw[0] = 1
	for i, c := range s {
		pre[i+1] = pre[i]*variantPrime + uint64(c) + 1
		pw[i+1] = pw[i] * variantPrime
	}
	sub := func(a, b int) uint64 { return pre[b] - pre[a]*pw[b-a] }
	dst = append(dst, mixVariant(pre[n], n))
	if k == 0 || n <= 1 {
		return dst, len(dst)
	}
	for i := range s {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		dst = append(dst, mixVariant(pre[i]*pw[n-1-i]+sub(i+1, n), n-1))
	}
	level2 = len(dst) // one-deletion variants are distinct: only runs collide, and those were skipped
	if k < 2 || n <= 2 {
		return dst, level2
	}
	for i := range s {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		for j := i + 1; j < n; j++ {
			if j > i+1 && s[j] == s[j-1] {
				continue
			}
			h := pre[i]*pw[n-2-i] + sub(i+1, j)*pw[n-1-j] + sub(j+1, n)
			dst = append(dst, mixVariant(h, n-2)|twoDelKeyBit)
		}
	}
	if !dedup {
		return dst, level2
	}
	tail := dst[level2:]
	slices.Sort(tail)
	return dst[:level2+len(slices.Compact(tail))], level2
}

// The metadata of a deletion-index entry is a make tag: 1 to 62 for a make (a hash of it),
// anyMake for records without one. A group is entered under the tag of every make its serials'
// records carry (see Index.claimTag). A query that names a make looks for misread serials among
// that make only (another make's record ranks below every record of the query's make, and can
// never be a HIT), and the tag lets it skip the others without touching their groups. Serials of
// other makes are still found by the exact tiers, for REVIEW.
const (
	anyMake   = 63
	noTag     = 0  // a group with no serial yet, or not yet in the fuzzy indexes
	multiTags = 64 // groupRec.itag of a group entered under several tags
	tagBits   = 26
)

// makeTag is the tag of an interned make; a record without a make matches every query.
func makeTag(mk uint32) uint8 {
	if mk == none {
		return anyMake
	}
	return uint8(1 + hash32(mk)%62)
}

// joinTag is the tag of a group after a serial with tag t joins it: the one make tag its serials
// share, or anyMake once they differ.
func joinTag(cur, t uint8) uint8 {
	if cur == noTag || cur == t {
		return t
	}
	return anyMake
}

// tagMatches reports whether an entry with tag e may hold a record of the query's make tag q.
func tagMatches(e, q uint32) bool { return e == q || e == anyMake || q == anyMake }

// appendDeletionEntries appends the deletion-index entries (key<<32 | tag<<26 | group) of group g
// with skeleton skel and make tag tag, one per variant, to dst, and their position bytes (see
// variantPos) to dpos; none for a skeleton too long to have few.
func appendDeletionEntries(dst []uint64, dpos []uint8, skel []byte, g uint32, tag uint8) ([]uint64, []uint8) {
	if len(skel) == 0 || len(skel) > maxDeletionLen || g > maxIndexedGroup {
		return dst, dpos
	}
	var buf [maxVariants]uint32
	keys, level2 := appendVariants(buf[:0], skel, maxDeletions, false)
	v := uint64(tag)<<tagBits | uint64(g)
	for _, k := range keys {
		dst = append(dst, uint64(k)<<32|v)
	}
	dpos = appendVariantPos(dpos, skel)
	for range keys[level2:] {
		dpos = append(dpos, 0)
	}
	return dst, dpos
}

// Position bytes of the deletion index. An entry of a one-deletion variant keeps the character it
// deleted and, modulo 8, its position (variantPos), so that an exact query can tell, before it
// reads an entry's group, that the group lies two edits away rather than one, or is the query's
// own skeleton (which the exact tier has). The query's variant deleting c = q[i] and a group's
// variant deleting c' = g[j] are the same string S: q is S with c put back at i, g is S with c'
// put back at j (i and j the first of their runs, as appendVariants deletes). Then:
//
//   - i = j and c' = c: g is q, the exact tier's group;
//   - a substitution at p deletes p on both sides; the positions kept are the starts of p's runs in
//     q and in g, one of which is p (q[p-1] = g[p-1] cannot repeat both q[p] and g[p]), and the
//     characters differ. Either j = p inside the run of q that starts at i, or i = p and g's run
//     of c' covers j..p-1, so that q[j..i-1] lies in the run before q[i] and c' is its character;
//   - a transposition of xy at p swaps into yx: deleting x keeps (start of x's run in q, p+1),
//     deleting y keeps (p+1, start of y's run in g), and q[p-1] = g[p-1] cannot be both x and y,
//     so one of the two pairs is |i-j| = 1 with c' = c;
//   - an insertion or a deletion pairs a variant with the other side's whole string (no position).
//
// So a group within one edit of q, other than q's own, always has an entry that its variant's
// posFilter takes: the filter takes every position whose residue modulo 8 is one of those above
// (a residue stands for several positions in a skeleton longer than 8: the filter then takes more,
// never less), and turns away only residue i with character c, which none of the pairs above is
// unless g is q. TestPositionFilterAgreesWithDistance checks this on random strings.

// posNone is the position byte of an entry without a position: the whole skeleton, or a
// two-deletion variant.
const posNone = 0

// charOther is the character code of a character outside the skeleton alphabet: it may be any.
const charOther = 31

// charCodes gives every skeleton character a distinct code from 1: digits, and the letters the
// skeleton keeps (O, I, L, S, B, Z, G, D and Q become digits).
var charCodes = func() (t [256]uint8) {
	for i := range t {
		t[i] = charOther
	}
	code := uint8(1)
	for c := 0; c < 256; c++ {
		if isDigit(byte(c)) || c >= 'A' && c <= 'Z' && skeletonOf[c] == byte(c) {
			t[c] = code
			code++
		}
	}
	if code > charOther {
		panic("matcher: skeleton alphabet does not fit a position byte")
	}
	return t
}()

// variantPos returns the position byte of an entry deleting s[i] = c: c's code in the top five
// bits (never 0), i modulo 8 in the low three.
func variantPos(i int, c byte) uint8 { return charCodes[c]<<3 | uint8(i&7) }

// posFilter is what one query variant takes of the entries its key finds, by position byte (bit r
// of a mask stands for positions of residue r modulo 8): deletions at residues in any, at residues
// in by1 when they deleted the character of code c1, at residues in by2 when of code c2; but not
// a deletion at residue self of the character of code selfCode (the query's own skeleton). whole
// marks the query's whole skeleton, which takes every entry with a position and none without
// (an entry without one that equals the whole query is the query's own skeleton).
type posFilter struct {
	any, by1, by2, self uint8
	c1, c2, selfCode    uint8
	whole               bool
}

// takes reports whether the filter takes an entry with position byte p.
func (f *posFilter) takes(p uint8) bool {
	if p == posNone {
		return !f.whole
	}
	if f.whole {
		return true
	}
	r, code := uint8(1)<<(p&7), p>>3
	if p&7 == f.self && code == f.selfCode && code != charOther {
		return false
	}
	anyChar := code == charOther
	return f.any&r != 0 || f.by1&r != 0 && (code == f.c1 || anyChar) || f.by2&r != 0 && (code == f.c2 || anyChar)
}

// appendVariantPos appends the position bytes of the variants of s that delete at most one
// character, in the order appendVariants gives them: posNone for s itself, then variantPos for
// each first character of a run.
func appendVariantPos(dst []uint8, s []byte) []uint8 {
	dst = append(dst, posNone)
	if len(s) <= 1 {
		return dst
	}
	for i := range s {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		dst = append(dst, variantPos(i, s[i]))
	}
	return dst
}

// residues returns the mask of the residues modulo 8 of positions from to to (inclusive).
func residues(from, to int) uint8 {
	m := uint8(0)
	for j := max(from, 0); j <= to && j < from+8; j++ {
		m |= 1 << (j & 7)
	}
	return m
}

// appendNearFilters appends, for every variant of q that deletes at most one character (in the
// order appendVariants gives them), the filter of the entries through which a group other than
// q's own may lie within one edit of q (see the comment above posNone): its variant deleting q[i]
// takes deletions inside q[i]'s run, at i-1 and i+1 of q[i]'s character (a transposition), and
// inside the run before q[i]'s of that run's character (a substitution at the end of a run), and
// not q[i] itself. q is at most maxDeletionLen long.
func appendNearFilters(dst []posFilter, q []byte) []posFilter {
	dst = append(dst, posFilter{whole: true})
	if len(q) <= 1 {
		return dst
	}
	prev := 0 // start of the run before the current one
	for i := range q {
		if i > 0 && q[i] == q[i-1] {
			continue
		}
		end := i + 1
		for end < len(q) && q[end] == q[i] {
			end++
		}
		c := charCodes[q[i]]
		f := posFilter{any: residues(i, end-1), by1: residues(i+1, i+1), c1: c,
			self: uint8(i & 7), selfCode: c}
		if i > 0 {
			f.by1 |= residues(i-1, i-1)
			f.by2, f.c2 = residues(prev, i-1), charCodes[q[i-1]]
		}
		dst = append(dst, f)
		prev = i
	}
	return dst
}
