package matcher

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// The auxiliary multimap (Index.aux) finds serials by forms other than their skeleton: without
// their embedded letters ('E' keys, the NCIC rule) and without a prefix or suffix token ('T' keys:
// a maker's letter prefix or an import mark the officer did not read as part of the serial).
// 'P' keys find a serial by what is left of it without its first or last part between separators
// as recorded ("011-09046" read as "09046": one digit run to the normal form, so no token).
// Its values are serial ids; lookups verify what they find, so stale entries are harmless.

const (
	auxEmbedded = 'E'
	auxToken    = 'T'
	auxPart     = 'P'
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

// appendAuxKeys appends the auxiliary keys of a serial with normal form norm, recorded as raw.
func appendAuxKeys(dst []uint32, norm []byte, raw string) []uint32 {
	if hasEmbedded(norm) {
		dst = append(dst, auxHash(auxEmbedded, strippedSkeleton(norm)))
	}
	var cuts [3]span
	var buf [maxSerialLen]byte
	for _, c := range tokenCuts(cuts[:0], norm) {
		dst = append(dst, auxHash(auxToken, appendSkeleton(buf[:0], norm[c.lo:c.hi])))
	}
	// The parts between separators as recorded, where they are not tokens already.
	first, last := separatorBounds(raw)
	if first < 0 {
		return dst
	}
	for _, rest := range [2]string{raw[first:], raw[:last]} {
		n := normalize(buf[:0], rest, false)
		if len(n) < minKnownFuzzy || len(norm)-len(n) > maxNoiseExtra || len(n) >= len(norm) {
			continue
		}
		var sbuf [maxSerialLen]byte
		skel := appendSkeleton(sbuf[:0], n)
		if len(skel) < minKnownFuzzy || slices.Contains(dst, auxHash(auxToken, skel)) {
			continue
		}
		dst = append(dst, auxHash(auxPart, skel))
	}
	return dst
}

// separatorBounds returns where raw's second part starts and where its next-to-last part ends,
// the parts being what separators (anything that normalises to nothing) divide; -1, -1 when raw
// is one part.
func separatorBounds(raw string) (first, last int) {
	parts, inPart, end := 0, false, -1
	first, last = -1, -1
	for k := 0; k < len(raw); {
		r, w := utf8.DecodeRuneInString(raw[k:])
		if foldRune(nil, r, false) == nil {
			if inPart {
				inPart, end = false, k
			}
		} else if !inPart {
			inPart = true
			parts++
			if parts == 2 {
				first = k
			}
			if parts >= 2 {
				last = end // the end of the part before this one
			}
		}
		k += w
	}
	if parts < 2 {
		return -1, -1
	}
	return first, last
}

// partMatch returns the part of serial id that the query's skeleton want reads, when want is what
// is left of the serial without a part at its start or its end (an auxPart key); nil otherwise.
func (ix *Index) partMatch(id uint32, want []byte) []byte {
	if ix.ser.rec.at(id).n == 0 {
		return nil
	}
	norm := ix.ser.norm(id)
	var buf [maxSerialLen]byte
	skel := appendSkeleton(buf[:0], norm)
	if len(want) >= len(skel) || len(skel)-len(want) > maxNoiseExtra {
		return nil
	}
	off := len(norm) - len(skel) // leading characters the skeleton trimmed
	switch {
	case bytes.HasSuffix(skel, want):
		return norm[len(norm)-len(want):]
	case bytes.HasPrefix(skel, want):
		return norm[off : off+len(want)]
	}
	return nil
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
