package matcher

import "unicode/utf8"

// NormalizeSerial returns the canonical form of a serial as marked: upper-case ASCII letters and
// digits only, Cyrillic and Greek look-alikes read as the Latin letters they resemble, separators
// and punctuation dropped, leading zeros removed (a serial of zeros keeps one). Two spellings of
// the same marking normalise to the same string; confusable Latin letters (O and 0) are kept
// apart here and merged only in the skeleton, so that an exact match still outranks a misreading.
func NormalizeSerial(s string) string {
	return string(normalize(make([]byte, 0, len(s)), s, false))
}

// normalize appends the normal form of s to dst; with keepWild the query wildcards '?' and '*'
// survive, and a run of '*' collapses to one.
func normalize(dst []byte, s string, keepWild bool) []byte {
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			dst = foldRune(dst, rune(c), keepWild)
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			dst = foldRune(dst, r, keepWild)
		}
		if keepWild && len(dst)-start >= 2 && dst[len(dst)-1] == '*' && dst[len(dst)-2] == '*' {
			dst = dst[:len(dst)-1]
		}
	}
	return trimLeadingZeros(dst, start)
}

// trimLeadingZeros drops the zeros that open dst[start:], keeping one when nothing else follows.
// Leading zeros are padding that some registries add and others do not.
func trimLeadingZeros(dst []byte, start int) []byte {
	z := start
	for z < len(dst)-1 && dst[z] == '0' {
		z++
	}
	if z == start {
		return dst
	}
	return append(dst[:start], dst[z:]...)
}

// skeletonOf maps each character of a normalised serial to its confusable class: the letters that
// are misread as digits on worn metal (O D Q as 0, I L as 1, S as 5, B as 8, Z as 2, G as 6) become
// those digits. Every other character maps to itself.
var skeletonOf = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for _, p := range [...]struct{ from, to byte }{
		{'O', '0'}, {'D', '0'}, {'Q', '0'}, {'I', '1'}, {'L', '1'},
		{'S', '5'}, {'B', '8'}, {'Z', '2'}, {'G', '6'},
	} {
		t[p.from] = p.to
	}
	return t
}()

// appendSkeleton appends the confusable skeleton of the normalised serial n to dst. Leading zeros
// are trimmed again because a leading O becomes a zero.
func appendSkeleton(dst []byte, n []byte) []byte {
	start := len(dst)
	for _, c := range n {
		dst = append(dst, skeletonOf[c])
	}
	return trimLeadingZeros(dst, start)
}

// Skeleton returns the confusable skeleton of a serial: its normal form with every confusable
// letter replaced by the digit it is mistaken for. Serials that differ only by O/0, I/1, S/5, B/8,
// Z/2 or G/6 have the same skeleton.
func Skeleton(s string) string {
	n := normalize(nil, s, false)
	return string(appendSkeleton(nil, n))
}

// confusable reports whether a and b are distinct characters with the same skeleton class.
func confusable(a, b byte) bool {
	return a != b && skeletonOf[a] == skeletonOf[b]
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendStripEmbedded appends s without the letters that sit between two digits (369J257 becomes
// 369257), the rule NCIC applies because such letters are often inspection or date marks. Prefix
// and suffix letters are kept. It returns dst unchanged in length when s has no embedded letter.
func appendStripEmbedded(dst []byte, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) || c == '?' || c == '*' {
			dst = append(dst, c)
			continue
		}
		// c is a letter: find the end of its run and check both neighbours are digits.
		j := i
		for j < len(s) && !isDigit(s[j]) && s[j] != '?' && s[j] != '*' {
			j++
		}
		if i > 0 && isDigit(s[i-1]) && j < len(s) && isDigit(s[j]) {
			i = j - 1
			continue
		}
		dst = append(dst, s[i:j]...)
		i = j - 1
	}
	return dst
}

// hasEmbedded reports whether s has a letter run between two digits.
func hasEmbedded(s []byte) bool {
	seenDigit, inLetters := false, false
	for _, c := range s {
		switch {
		case isDigit(c):
			if inLetters && seenDigit {
				return true
			}
			seenDigit, inLetters = true, false
		case c == '?' || c == '*':
			seenDigit, inLetters = false, false
		default:
			inLetters = true
		}
	}
	return false
}
