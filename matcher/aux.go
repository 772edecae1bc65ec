package matcher

// The auxiliary multimap (Index.aux) finds serials by forms other than their skeleton: without
// their embedded letters ('E' keys, the NCIC rule) and without a prefix or suffix token ('T' keys:
// a maker's letter prefix or an import mark the officer did not read as part of the serial).
// Its values are serial ids; lookups verify what they find, so stale entries are harmless.

const (
	auxEmbedded = 'E'
	auxToken    = 'T'
)

// auxHash hashes one auxiliary key: a kind byte and a skeleton. Its low bit is clear (the
// auxiliary index uses no flag).
func auxHash(kind byte, skel []byte) uint32 {
	var buf [maxSerialLen + 1]byte
	b := append(append(buf[:0], kind), skel...)
	return uint32(hash64(b)) &^ 1
}

// span is a part of a normal form, [lo, hi).
type span struct{ lo, hi int }

// tokenCuts returns the parts of a normal form left when its first token, its last token or both
// are dropped. A token is a run of letters or of digits of at most maxNoiseExtra characters, and
// what is left must keep at least minKnownFuzzy characters.
func tokenCuts(dst []span, norm []byte) []span {
	n := len(norm)
	if n == 0 {
		return dst
	}
	first := 1
	for first < n && isDigit(norm[first]) == isDigit(norm[0]) {
		first++
	}
	last := n - 1
	for last > 0 && isDigit(norm[last-1]) == isDigit(norm[n-1]) {
		last--
	}
	if first == n {
		return dst // one run: no token to drop
	}
	okFirst := first <= maxNoiseExtra && n-first >= minKnownFuzzy
	okLast := n-last <= maxNoiseExtra && last >= minKnownFuzzy
	if okFirst {
		dst = append(dst, span{first, n})
	}
	if okLast {
		dst = append(dst, span{0, last})
	}
	if okFirst && okLast && last-first >= minKnownFuzzy {
		dst = append(dst, span{first, last})
	}
	return dst
}

// appendAuxKeys appends the auxiliary keys of a serial with normal form norm.
func appendAuxKeys(dst []uint32, norm []byte) []uint32 {
	if hasEmbedded(norm) {
		dst = append(dst, auxHash(auxEmbedded, strippedSkeleton(norm)))
	}
	var cuts [3]span
	for _, c := range tokenCuts(cuts[:0], norm) {
		var buf [maxSerialLen]byte
		dst = append(dst, auxHash(auxToken, appendSkeleton(buf[:0], norm[c.lo:c.hi])))
	}
	return dst
}

// embeddedMatch reports whether serial id, stripped of its embedded letters, has skeleton want.
func (ix *Index) embeddedMatch(id uint32, want []byte) bool {
	if ix.ser.rec.at(id).n == 0 {
		return false
	}
	norm := ix.ser.norm(id)
	return hasEmbedded(norm) && string(strippedSkeleton(norm)) == string(want)
}

// strippedSkeleton is the skeleton of a normal form without its embedded letters. The letters are
// found in the normal form, not the skeleton: in BRU014 the B is a letter, so R and U are a prefix,
// not letters between digits (its skeleton 8RU014 would say otherwise).
func strippedSkeleton(norm []byte) []byte {
	var buf [maxSerialLen]byte
	return appendSkeleton(nil, appendStripEmbedded(buf[:0], norm))
}

// tokenMatch returns the part of serial id that is left, once a token (or one at each end) is
// dropped, with skeleton want, and how many tokens were dropped; nil when there is none.
func (ix *Index) tokenMatch(id uint32, want []byte) ([]byte, int) {
	if ix.ser.rec.at(id).n == 0 {
		return nil, 0
	}
	norm := ix.ser.norm(id)
	var cuts [3]span
	for _, c := range tokenCuts(cuts[:0], norm) {
		var buf [maxSerialLen]byte
		if string(appendSkeleton(buf[:0], norm[c.lo:c.hi])) == string(want) {
			dropped := 1
			if c.lo > 0 && c.hi < len(norm) {
				dropped = 2
			}
			return norm[c.lo:c.hi], dropped
		}
	}
	return nil, 0
}
