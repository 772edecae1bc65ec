package reference

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldPairs maps letters with diacritics (after lower-casing) to plain ones, so that "Anschütz",
// "Anschutz" and "Česká" meet their ASCII spellings; pairs not decomposable by Unicode (ß, ø, ł, ı)
// are written out because recording officers type them every way.
var foldPairs = []string{
	"àáâãäåāăą", "a", "çćĉċč", "c", "ďđ", "d", "èéêëēĕėęě", "e", "ĝğġģ", "g", "ĥħ", "h",
	"ìíîïĩīĭįı", "i", "ĵ", "j", "ķ", "k", "ĺļľŀł", "l", "ñńņňŉ", "n", "òóôõöøōŏő", "o",
	"ŕŗř", "r", "śŝşšș", "s", "ţťŧț", "t", "ùúûüũūŭůűų", "u", "ŵ", "w", "ýÿŷ", "y", "źżž", "z",
	"ё", "е", "й", "и",
}

// foldMulti holds letters that fold to two.
var foldMulti = map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'þ': "th"}

var foldSingle = func() map[rune]rune {
	m := map[rune]rune{}
	for i := 0; i < len(foldPairs); i += 2 {
		to, _ := utf8.DecodeRuneInString(foldPairs[i+1])
		for _, r := range foldPairs[i] {
			m[r] = to
		}
	}
	return m
}()

// appendFolded appends r lower-cased and folded to b.
func appendFolded(b []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(b, byte(r))
	}
	r = unicode.ToLower(r)
	if f, ok := foldSingle[r]; ok {
		r = f
	} else if s, ok := foldMulti[r]; ok {
		return append(b, s...)
	}
	return utf8.AppendRune(b, r)
}

// nameSuffixes are trailing corporate words that say nothing about which maker is meant
// ("Glock GmbH", "Savage Arms Inc"); they are dropped so aliases need not list every form.
var nameSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "gmbh": true, "ltd": true, "llc": true, "co": true,
	"corp": true, "corporation": true, "company": true, "sa": true, "spa": true, "ag": true,
	"srl": true, "as": true, "oy": true, "ab": true, "ad": true, "plc": true, "kg": true,
	"arms": true, "firearms": true, "mfg": true, "and": true, "pty": true, "sro": true,
}

// nameKey normalises a make or type name into the key its table is indexed by: lower case,
// diacritics folded, "&" and "und" read as "and", punctuation and spaces dropped and, when
// stripSuffix is set, trailing corporate words removed. It appends to dst to let callers keep
// the key on the stack.
func nameKey(dst []byte, s string, stripSuffix bool) []byte {
	type span struct{ from, to int }
	var words [24]span
	n := 0
	start := len(dst)
	b := dst
	wordStart := -1
	closeWord := func() {
		if wordStart >= 0 && n < len(words) {
			words[n] = span{wordStart, len(b)}
			n++
		}
		wordStart = -1
	}
	for _, r := range s {
		switch {
		case r == '&':
			closeWord()
			wordStart = len(b)
			b = append(b, "and"...)
			closeWord()
		case r == '\'' || r == '’' || r == '.':
			// "Colt's" and "Ges.m.b.H." keep their letters together.
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if wordStart < 0 {
				wordStart = len(b)
			}
			b = appendFolded(b, r)
		default:
			closeWord()
		}
	}
	closeWord()
	for i := 0; i < n; i++ {
		if string(b[words[i].from:words[i].to]) == "und" {
			copy(b[words[i].from:], "and")
		}
	}
	end := n
	if stripSuffix {
		for end > 1 && nameSuffixes[string(b[words[end-1].from:words[end-1].to])] {
			end--
		}
	}
	out := b[:start]
	for i := 0; i < end; i++ {
		out = append(out, b[words[i].from:words[i].to]...)
	}
	return out
}

// calibreKey normalises a calibre designation: lower case, "×" as "x", the letter runs "mm",
// "cal", "calibre", "caliber" and "kaliber" dropped, then everything but letters and digits
// dropped, so "9 mm x 19", "9x19mm", "9X19" and "7,62x39" meet "9x19" and "7.62x39". Letter and
// digit runs are separate tokens, which is what lets "9mm" lose its "mm" but "Mannlicher" keep it.
func calibreKey(dst []byte, s string) []byte {
	b := dst
	tok := len(b) // start of the current letter run
	inLetters := false
	endLetters := func() {
		if inLetters {
			switch string(b[tok:]) {
			case "mm", "cal", "calibre", "caliber", "kaliber":
				b = b[:tok]
			}
		}
		inLetters = false
	}
	for _, r := range s {
		if r == '×' {
			r = 'x'
		}
		switch {
		case unicode.IsLetter(r):
			if !inLetters {
				tok = len(b)
				inLetters = true
			}
			b = appendFolded(b, r)
		case unicode.IsDigit(r):
			endLetters()
			b = utf8.AppendRune(b, r)
		default:
			endLetters()
		}
	}
	endLetters()
	return b
}

// splitList splits a "|"-separated alias list, dropping empty items.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, "|") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
