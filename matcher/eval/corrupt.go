package eval

import (
	"strconv"
	"strings"

	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/matcher"
)

// confusablePairs lists what each character is misread as on worn metal.
var confusablePairs = map[byte]string{
	'0': "OD", 'O': "0", 'D': "0", 'Q': "0", '1': "IL", 'I': "1", 'L': "1",
	'5': "S", 'S': "5", '8': "B", 'B': "8", '2': "Z", 'Z': "2", '6': "G", 'G': "6",
}

// cyrillicLookalike maps Latin capitals to the Cyrillic letters that look the same.
var cyrillicLookalike = map[byte]string{
	'A': "А", 'B': "В", 'E': "Е", 'K': "К", 'M': "М", 'H': "Н", 'O': "О", 'P': "Р", 'C': "С",
	'T': "Т", 'X': "Х", 'Y': "У",
}

// formatNoise rewrites a serial the way another system would store it: case, separators, leading
// zeros, Cyrillic look-alikes. The normal form must not change.
func (g *Generator) formatNoise(raw, norm string) (string, bool) {
	s := raw
	for range 1 + g.r.IntN(2) {
		switch g.r.IntN(4) {
		case 0:
			s = strings.ToLower(s)
		case 1:
			b := []byte(norm)
			at := 1 + g.r.IntN(len(b)-1)
			s = string(b[:at]) + []string{"-", " ", "/", "."}[g.r.IntN(4)] + string(b[at:])
		case 2:
			if s != "" && s[0] >= '0' && s[0] <= '9' {
				s = "00" + s
			} else {
				s = " " + s + " "
			}
		case 3:
			var sb strings.Builder
			for i := 0; i < len(s); i++ {
				if c, ok := cyrillicLookalike[s[i]]; ok && g.r.IntN(2) == 0 {
					sb.WriteString(c)
				} else {
					sb.WriteByte(s[i])
				}
			}
			s = sb.String()
		}
	}
	return s, s != raw && matcher.NormalizeSerial(s) == norm
}

// confuse swaps one or two characters for what they are misread as.
func (g *Generator) confuse(norm string) (string, bool) {
	b := []byte(norm)
	var at []int
	for i, c := range b {
		if _, ok := confusablePairs[c]; ok && !(i == 0 && (c == '0' || c == 'O')) {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return "", false
	}
	n := 1
	if len(at) > 1 && g.r.IntN(3) == 0 {
		n = 2
	}
	g.r.Shuffle(len(at), func(i, j int) { at[i], at[j] = at[j], at[i] })
	for _, i := range at[:n] {
		alt := confusablePairs[b[i]]
		b[i] = alt[g.r.IntN(len(alt))]
	}
	return string(b), true
}

// edit applies one edit of the named kind, never a confusable one (that is its own class).
func (g *Generator) edit(norm, kind string) (string, bool) {
	b := []byte(norm)
	i := g.r.IntN(len(b))
	switch kind {
	case "sub1":
		c := g.sameClass(b[i])
		if matcher.Skeleton(string(c)) == matcher.Skeleton(string(b[i])) {
			return "", false
		}
		b[i] = c
	case "transpose":
		if i+1 >= len(b) || matcher.Skeleton(string(b[i])) == matcher.Skeleton(string(b[i+1])) {
			return "", false
		}
		b[i], b[i+1] = b[i+1], b[i]
	case "insert":
		b = append(b[:i], append([]byte{g.sameClass(b[i])}, b[i:]...)...)
	case "delete":
		b = append(b[:i], b[i+1:]...)
	}
	s := string(b)
	return s, matcher.Skeleton(s) != matcher.Skeleton(norm) && matcher.Skeleton(s) != ""
}

// edit2 applies two edits; the result must be exactly two edits from the serial as the skeleton
// reads it.
func (g *Generator) edit2(norm string) (string, bool) {
	kinds := []string{"sub1", "transpose", "insert", "delete"}
	s, ok := g.edit(norm, kinds[g.r.IntN(4)])
	if !ok {
		return "", false
	}
	s, ok = g.edit(s, kinds[g.r.IntN(4)])
	return s, ok && Distance(matcher.Skeleton(s), matcher.Skeleton(norm)) == 2
}

// sameClass returns a random character of the same class as c (digit or letter), other than c.
func (g *Generator) sameClass(c byte) byte {
	const digits, letters = "0123456789", "ABCDEFGHJKLMNPRSTUVWXYZ"
	set := letters
	if c >= '0' && c <= '9' {
		set = digits
	}
	for {
		if x := set[g.r.IntN(len(set))]; x != c {
			return x
		}
	}
}

// run replaces two to four characters at the start, in the middle or at the end with '*',
// keeping at least four read characters.
func (g *Generator) run(norm string) (string, bool) {
	n := 2 + g.r.IntN(3)
	if len(norm)-n < 4 {
		return "", false
	}
	var at int
	switch g.r.IntN(3) {
	case 0:
		at = 0
	case 1:
		at = len(norm) - n
	default:
		at = 1 + g.r.IntN(len(norm)-n-1)
	}
	return norm[:at] + "*" + norm[at+n:], true
}

// token adds an import mark or country code before or after the serial, or drops the record's
// letter prefix.
func (g *Generator) token(raw, norm string) (string, bool) {
	switch g.r.IntN(3) {
	case 0:
		return []string{"IMP ", "CAI-", "TR-", "USA ", "PL-"}[g.r.IntN(5)] + raw, true
	case 1:
		return raw + []string{" IMP", "-US", " RUS", "-KZ", " CAI"}[g.r.IntN(5)], true
	}
	i := 0
	for i < len(norm) && (norm[i] < '0' || norm[i] > '9') {
		i++
	}
	if i == 0 || i > 4 || len(norm)-i < 5 {
		return "", false
	}
	return norm[i:], true
}

// alias writes the make and calibre under another of their names.
func (g *Generator) alias(q *matcher.Query, i int) bool {
	rec := &g.d.Records[i]
	m, ok := reference.LookupMake(rec.Make)
	if !ok {
		return false
	}
	names := append([]string{m.Name}, m.Aliases...)
	var alts []string
	for _, n := range names {
		if !strings.EqualFold(n, rec.Make) {
			alts = append(alts, n)
		}
	}
	if len(alts) == 0 {
		return false
	}
	q.Make = alts[g.r.IntN(len(alts))]
	if c, ok := reference.LookupCalibre(rec.Calibre); ok {
		cals := append([]string{c.Name}, c.Aliases...)
		for range 4 {
			if alt := cals[g.r.IntN(len(cals))]; !strings.EqualFold(alt, rec.Calibre) {
				q.Calibre = alt
				break
			}
		}
	}
	return true
}

// next returns the first number after the serial's counting digits that no record carries: the
// next firearm of the factory run, which was never recorded.
func (g *Generator) next(norm string) (string, bool) {
	end := len(norm)
	for end > 0 && (norm[end-1] < '0' || norm[end-1] > '9') {
		end--
	}
	start := end
	for start > 0 && norm[start-1] >= '0' && norm[start-1] <= '9' {
		start--
	}
	if end-start < 3 {
		return "", false
	}
	v, err := strconv.ParseUint(norm[start:end], 10, 64)
	if err != nil {
		return "", false
	}
	for step := uint64(1); step < 20; step++ {
		num := strconv.FormatUint(v+step, 10)
		if len(num) > end-start {
			return "", false
		}
		s := norm[:start] + strings.Repeat("0", end-start-len(num)) + num + norm[end:]
		if !g.present(s) {
			return s, true
		}
	}
	return "", false
}

// otherMake keeps the serial but describes a firearm of another maker (make, calibre and type of
// a random record of that maker) that carries no such serial.
func (g *Generator) otherMake(q *matcher.Query, i int) bool {
	for range 20 {
		j := g.r.IntN(len(g.d.Records))
		if g.makeOf[j] == "" || g.makeOf[j] == g.makeOf[i] {
			continue
		}
		clash := false
		for _, k := range g.skels[matcher.Skeleton(g.d.Records[i].Serial)] {
			clash = clash || g.makeOf[k] == g.makeOf[j]
		}
		if clash {
			continue
		}
		o := &g.d.Records[j]
		q.Make, q.Calibre, q.Type, q.Model = o.Make, o.Calibre, o.Type, ""
		return true
	}
	return false
}

// clearNegative describes a firearm that is not recorded: a record of another synthetic sequence
// whose serial no record carries.
func (g *Generator) clearNegative() (Case, bool) {
	for range 100 {
		o := g.others.Next()
		if len(matcher.NormalizeSerial(o.Serial)) < 5 || g.present(o.Serial) || g.nearRecorded(o.Serial) {
			continue
		}
		q := matcher.Query{Serial: o.Serial, Make: o.Make, Calibre: o.Calibre, Type: o.Type}
		if g.r.IntN(2) == 0 {
			q.Model = o.Model
		}
		return Case{Class: "neg-clear", Query: q, Truth: -1}, true
	}
	return Case{}, false
}
