package matcher

import "unicode"

// lookalike maps non-ASCII letters that officers and data-entry systems confuse with Latin letters
// or digits to the ASCII character they are read as. Visual look-alikes win over transliteration
// (Cyrillic Р is read as P, not R) because a serial is copied from the metal by eye.
var lookalike = map[rune]string{
	// Cyrillic capitals that look like Latin letters.
	'А': "A", 'В': "B", 'Е': "E", 'Ё': "E", 'З': "3", 'К': "K", 'М': "M", 'Н': "H", 'О': "O",
	'Р': "P", 'С': "C", 'Т': "T", 'У': "Y", 'Х': "X", 'Ѕ': "S", 'І': "I", 'Ї': "I", 'Ј': "J",
	'Ԛ': "Q", 'Ԝ': "W",
	// Cyrillic small letters that look like Latin letters.
	'а': "A", 'в': "B", 'е': "E", 'ё': "E", 'з': "3", 'к': "K", 'м': "M", 'н': "H", 'о': "O",
	'р': "P", 'с': "C", 'т': "T", 'у': "Y", 'х': "X", 'ѕ': "S", 'і': "I", 'ї': "I", 'ј': "J",
	'ԛ': "Q", 'ԝ': "W",
	// Cyrillic letters without a look-alike: transliterated, so a Makarov serial typed either way
	// normalises the same.
	'Б': "B", 'б': "B", 'Г': "G", 'г': "G", 'Д': "D", 'д': "D", 'Ж': "ZH", 'ж': "ZH",
	'И': "I", 'и': "I", 'Й': "I", 'й': "I", 'Л': "L", 'л': "L", 'П': "P", 'п': "P",
	'Ф': "F", 'ф': "F", 'Ц': "TS", 'ц': "TS", 'Ч': "CH", 'ч': "CH", 'Ш': "SH", 'ш': "SH",
	'Щ': "SH", 'щ': "SH", 'Ы': "Y", 'ы': "Y", 'Э': "E", 'э': "E", 'Ю': "YU", 'ю': "YU",
	'Я': "YA", 'я': "YA", 'Є': "E", 'є': "E", 'Ў': "U", 'ў': "U",
	// Greek capitals.
	'Α': "A", 'Β': "B", 'Γ': "G", 'Δ': "D", 'Ε': "E", 'Ζ': "Z", 'Η': "H", 'Θ': "O", 'Ι': "I",
	'Κ': "K", 'Λ': "L", 'Μ': "M", 'Ν': "N", 'Ξ': "X", 'Ο': "O", 'Π': "P", 'Ρ': "P", 'Σ': "S",
	'Τ': "T", 'Υ': "Y", 'Φ': "F", 'Χ': "X", 'Ψ': "PS", 'Ω': "O",
	// Greek small letters, by shape where one exists (ν looks like v, not N).
	'α': "A", 'β': "B", 'γ': "Y", 'δ': "D", 'ε': "E", 'ζ': "Z", 'η': "N", 'θ': "O", 'ι': "I",
	'κ': "K", 'λ': "L", 'μ': "U", 'ν': "V", 'ξ': "X", 'ο': "O", 'π': "P", 'ρ': "P", 'σ': "O",
	'ς': "S", 'τ': "T", 'υ': "U", 'φ': "F", 'χ': "X", 'ψ': "PS", 'ω': "W",
	// Latin letters that stand for digits or carry marks a keyboard adds.
	'Ø': "0", 'ø': "0", 'ß': "SS", 'Æ': "AE", 'æ': "AE", 'Œ': "OE", 'œ': "OE", 'Đ': "D", 'đ': "D",
	'ı': "I", 'Ł': "L", 'ł': "L", '№': "NO",
}

// foldRune appends the ASCII reading of r to dst: upper-case letters and digits; wildcards are kept
// only when keepWild is set; every other character (separators, marks, punctuation) is dropped.
func foldRune(dst []byte, r rune, keepWild bool) []byte {
	switch {
	case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
		return append(dst, byte(r))
	case r >= 'a' && r <= 'z':
		return append(dst, byte(r-'a'+'A'))
	case r == '?' || r == '*':
		if keepWild {
			return append(dst, byte(r))
		}
		return dst
	case r < 0x80:
		return dst
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII, as East Asian keyboards type it
		return foldRune(dst, r-0xFF01+'!', keepWild)
	}
	if s, ok := lookalike[r]; ok {
		return append(dst, s...)
	}
	if b := stripMark(r); b != 0 {
		return append(dst, b)
	}
	return dst
}

// stripMark returns the base ASCII letter of an accented Latin letter (É -> E), or 0.
func stripMark(r rune) byte {
	const (
		upper = "AAAAAAACEEEEIIIIDNOOOOO.OUUUUYTS" // U+00C0..U+00DF
		lower = "aaaaaaaceeeeiiiidnooooo.ouuuuyty" // U+00E0..U+00FF
	)
	var c byte
	switch {
	case r >= 0xC0 && r <= 0xDF:
		c = upper[r-0xC0]
	case r >= 0xE0 && r <= 0xFF:
		c = lower[r-0xE0]
	default:
		if unicode.IsLetter(r) {
			if u := unicode.ToUpper(r); u < 0x80 {
				return byte(u)
			}
		}
		return 0
	}
	switch {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 'A'
	case c >= 'A' && c <= 'Z':
		return c
	}
	return 0
}
