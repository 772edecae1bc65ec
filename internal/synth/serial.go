package synth

import (
	"math/rand/v2"
	"strings"
)

const (
	latinSerialLetters    = "ABCDEFGHJKLMNPRSTUVWXYZ" // I, O and Q are avoided by most factories
	cyrillicSerialLetters = "АБВГДЕЖИКЛМНПРСТУФХЦШЭЮЯ"
)

var cyrillicLetters = []rune(cyrillicSerialLetters)

// serialRun is the state of one factory run: the serial with its fixed characters rendered and
// the position and width of the counting block.
type serialRun struct {
	template []byte // fixed characters rendered; the counting block holds placeholders
	at, w    int    // counting block position and width in template
	next     uint64 // next counter value
	max      uint64 // 10^w
}

// startRun renders pattern's fixed characters for a new run and picks a start counter that
// leaves room for runLen serials.
func startRun(r *rand.Rand, pattern string, runLen int) serialRun {
	var s serialRun
	b := make([]byte, 0, len(pattern)+8)
	// The counting block is the last run of '#'; earlier '#' become fixed digits.
	last := strings.LastIndexByte(pattern, '#')
	first := last
	for first > 0 && pattern[first-1] == '#' {
		first--
	}
	for i, c := range pattern {
		switch {
		case c == '#' && i >= first && i <= last:
			if i == first {
				s.at = len(b)
			}
			b = append(b, '0')
			s.w++
		case c == '#' || c == '*':
			b = append(b, byte('0'+r.IntN(10)))
		case c == '@':
			b = append(b, latinSerialLetters[r.IntN(len(latinSerialLetters))])
		case c == '%':
			b = append(b, string(cyrillicLetters[r.IntN(len(cyrillicLetters))])...)
		case c == '^':
			b = appendInt(b, uint64(1955+r.IntN(60)), 4)
		default:
			b = append(b, string(c)...)
		}
	}
	s.template = b
	s.max = 1
	for range s.w {
		s.max *= 10
	}
	room := uint64(runLen) * 3
	if s.max > room+1 {
		s.next = r.Uint64N(s.max - room)
	}
	return s
}

// serial returns the current serial and advances the counter, mostly by one and sometimes by a
// few (firearms of a run that were never recorded).
func (s *serialRun) serial(r *rand.Rand) string {
	b := make([]byte, len(s.template))
	copy(b, s.template)
	v := s.next % s.max
	for i := s.at + s.w - 1; i >= s.at; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	step := uint64(1)
	if r.IntN(5) == 0 {
		step += uint64(r.IntN(4))
	}
	s.next += step
	return string(b)
}

// appendInt appends v zero-padded to width digits.
func appendInt(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// translit maps Cyrillic serial letters to what officers outside Cyrillic-writing countries type:
// the look-alike Latin letter where there is one, a transliteration otherwise.
var translit = map[rune]string{
	'А': "A", 'Б': "B", 'В': "B", 'Г': "G", 'Д': "D", 'Е': "E", 'Ж': "ZH", 'И': "I", 'К': "K",
	'Л': "L", 'М': "M", 'Н': "H", 'П': "P", 'Р': "P", 'С': "C", 'Т': "T", 'У': "Y", 'Ф': "F",
	'Х': "X", 'Ц': "TS", 'Ш': "SH", 'Э': "E", 'Ю': "YU", 'Я': "YA",
}

// asRecorded varies a serial the way different NCBs write the same marking: separators added
// or dropped, lower case, Cyrillic transliterated.
func asRecorded(r *rand.Rand, s string, cyrillicOK bool) string {
	if hasNonASCII(s) && (!cyrillicOK && r.IntN(10) < 6 || cyrillicOK && r.IntN(10) == 0) {
		var sb strings.Builder
		for _, c := range s {
			if t, ok := translit[c]; ok {
				sb.WriteString(t)
			} else {
				sb.WriteRune(c)
			}
		}
		s = sb.String()
	}
	switch n := r.IntN(100); {
	case n < 6: // a separator between letters and digits
		for i := 1; i < len(s); i++ {
			if isASCIILetter(s[i-1]) && isDigit(s[i]) {
				return s[:i] + []string{" ", "-"}[r.IntN(2)] + s[i:]
			}
		}
	case n < 10: // separators dropped
		return strings.NewReplacer(" ", "", "-", "").Replace(s)
	case n < 12:
		return strings.ToLower(s)
	}
	return s
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func isASCIILetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }
func isDigit(c byte) bool       { return '0' <= c && c <= '9' }
