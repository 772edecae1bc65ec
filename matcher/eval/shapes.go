package eval

import (
	"math/rand/v2"
	"strings"

	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/matcher"
)

// Shapes are what an officer gives beside the serial, in report order: the serial alone; the make;
// make and model; make, calibre and type; the make under an alias or misspelt; make and the model
// written another way. The class tables describe a firearm as the generator records it (make,
// calibre, type, the model half of the time); the shape table crosses every positive class with
// these.
var Shapes = []string{"serial", "make", "model", "full", "makealt", "modelalt"}

// ShapeClasses are the corruption classes crossed with the shapes: every positive class except
// alias, which is a shape here (makealt).
var ShapeClasses = []string{
	"exact", "format", "confusable", "sub1", "transpose", "insert", "delete", "edit2",
	"unread1", "run", "token", "mark", "tail",
}

// ShapeCases returns n cases of every class and shape. They draw on their own random stream, so
// the class cases of a seed do not change with them.
func (g *Generator) ShapeCases(n int) []Case {
	saved := g.r
	g.r = rand.New(rand.NewPCG(saved.Uint64(), 29))
	defer func() { g.r = saved }()
	var out []Case
	for _, class := range ShapeClasses {
		for _, shape := range Shapes {
			for range n {
				c, ok := g.oneShaped(class, shape)
				if ok {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// oneShaped makes a case of the class whose description has the shape, trying a few truths.
func (g *Generator) oneShaped(class, shape string) (Case, bool) {
	for range 50 {
		c, ok := g.one(class)
		if !ok {
			return c, false
		}
		rec := &g.d.Records[c.Truth]
		serial := c.Query.Serial
		q := matcher.Query{Serial: serial}
		switch shape {
		case "make":
			q.Make = rec.Make
		case "model":
			q.Make, q.Model = rec.Make, rec.Model
			ok = rec.Model != ""
		case "full":
			q.Make, q.Calibre, q.Type = rec.Make, rec.Calibre, rec.Type
		case "makealt":
			q.Make, ok = g.makeAlt(rec.Make)
		case "modelalt":
			q.Make = rec.Make
			q.Model, ok = g.modelAlt(rec.Model, rec.Make)
		}
		if ok {
			c.Query, c.Shape = q, shape
			return c, true
		}
	}
	return Case{}, false
}

// makeAlt writes a make as an officer might: another of its names, or misspelt (a letter dropped,
// doubled or swapped with the next) so that the tables no longer know it.
func (g *Generator) makeAlt(name string) (string, bool) {
	m, known := reference.LookupMake(name)
	if known && g.r.IntN(2) == 0 {
		var alts []string
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if !strings.EqualFold(n, name) {
				alts = append(alts, n)
			}
		}
		if len(alts) > 0 {
			return alts[g.r.IntN(len(alts))], true
		}
	}
	b := []byte(name)
	var letters []int
	for i, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			letters = append(letters, i)
		}
	}
	if len(letters) < 5 {
		return "", false
	}
	for range 10 {
		i := letters[1+g.r.IntN(len(letters)-2)]
		var s string
		switch g.r.IntN(3) {
		case 0:
			s = string(b[:i]) + string(b[i+1:])
		case 1:
			s = string(b[:i+1]) + string(b[i:])
		default:
			s = string(b[:i]) + string(b[i+1]) + string(b[i]) + string(b[i+2:])
		}
		if _, ok := reference.LookupMake(s); !ok && s != name {
			return s, true
		}
	}
	return "", false
}

// modelAlt writes a model another way: a word dropped ("Glock 17" as "17", "PT111 Millennium" as
// "PT111"), "Model" shortened ("Model 686" as "M686"), the make's first word put before it
// ("Beretta 1301"), or a variant word after it ("1301 Tactical").
func (g *Generator) modelAlt(model, mk string) (string, bool) {
	if model == "" {
		return "", false
	}
	words := strings.Fields(model)
	var alts []string
	if len(words) > 1 {
		alts = append(alts, strings.Join(words[1:], " "), strings.Join(words[:len(words)-1], " "))
		if strings.EqualFold(words[0], "model") {
			alts = append(alts, "M"+strings.Join(words[1:], ""))
		}
	}
	if first := strings.Fields(mk); len(first) > 0 && !strings.Contains(strings.ToUpper(model), strings.ToUpper(first[0])) {
		alts = append(alts, first[0]+" "+model)
	}
	alts = append(alts, model+" "+[]string{"Tactical", "Compact", "II", "Sport", "Gen4"}[g.r.IntN(5)])
	alt := alts[g.r.IntN(len(alts))]
	return alt, len(matcher.NormalizeSerial(alt)) >= 1
}

// mark glues an import, proof or factory mark of one to six characters to either end of the serial,
// with no separator: officers read it as part of the serial.
func (g *Generator) mark(norm string) (string, bool) {
	const chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
	n := 1 + g.r.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.r.IntN(len(chars))]
	}
	if g.r.IntN(2) == 0 {
		return string(b) + norm, true
	}
	return norm + string(b), true
}

// tail drops what an officer did not read: the serial's leading letters, or its first or last
// token (a letter or digit run, or a part between separators as recorded), leaving at least four
// characters.
func (g *Generator) tail(raw, norm string) (string, bool) {
	var forms []string
	add := func(s string) {
		if n := matcher.NormalizeSerial(s); len(n) >= 4 && n != norm && len(norm)-len(n) <= 6 {
			forms = append(forms, n)
		}
	}
	i := 0
	for i < len(norm) && !isDigit(norm[i]) {
		i++
	}
	if i > 0 && i < len(norm) {
		add(norm[i:])
	}
	j := 1
	for j < len(norm) && isDigit(norm[j]) == isDigit(norm[0]) {
		j++
	}
	add(norm[j:])
	k := len(norm) - 1
	for k > 0 && isDigit(norm[k-1]) == isDigit(norm[len(norm)-1]) {
		k--
	}
	add(norm[:k])
	parts := strings.FieldsFunc(raw, func(r rune) bool { return r == ' ' || r == '-' || r == '/' || r == '.' })
	if len(parts) > 1 {
		add(strings.Join(parts[1:], ""))
		add(strings.Join(parts[:len(parts)-1], ""))
	}
	if len(forms) == 0 {
		return "", false
	}
	return forms[g.r.IntN(len(forms))], true
}
