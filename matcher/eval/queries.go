package eval

import (
	"math/rand/v2"
	"strings"

	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/matcher"
)

// Classes of queries, in report order. Positives have a truth record; the last three are negatives.
var Classes = []string{
	"exact", "format", "confusable", "sub1", "transpose", "insert", "delete", "edit2",
	"unread1", "run", "token", "mark", "tail", "alias", "neg-clear", "neg-next", "neg-make",
}

// generated is the order the classes' cases are drawn in: the classes added after the first
// fifteen come last, so that a seed's earlier cases stay what they were.
var generated = []string{
	"exact", "format", "confusable", "sub1", "transpose", "insert", "delete", "edit2",
	"unread1", "run", "token", "alias", "neg-clear", "neg-next", "neg-make", "mark", "tail",
}

// IsNegative reports whether a class has no truth record.
func IsNegative(class string) bool { return strings.HasPrefix(class, "neg-") }

// Case is one query with its ground truth.
type Case struct {
	Class string
	// Shape names what the query gives beside the serial (see Shapes); empty for the class cases,
	// which describe the firearm as the generator records it.
	Shape string
	Query matcher.Query
	Truth int // index of the truth record in the dataset; -1 for negatives
}

// Generator corrupts dataset serials into queries of a given class.
type Generator struct {
	d      *Dataset
	r      *rand.Rand
	skels  map[string][]int // skeleton of every serial -> records carrying it
	makeOf []string         // canonical make id per record ("" when unknown)
	others *synth.Generator // records that are not in the dataset, for clear negatives
	noisy  map[string]bool  // noise forms of the recorded serials (noisyRecorded)
}

// NewGenerator prepares a query generator over d.
func NewGenerator(d *Dataset, seed uint64) *Generator {
	g := &Generator{d: d, r: rand.New(rand.NewPCG(seed, 17)), skels: make(map[string][]int, len(d.Records)),
		makeOf: make([]string, len(d.Records)), others: synth.New(int64(seed) + 1_000_003)}
	for i := range d.Records {
		rec := &d.Records[i]
		g.skels[matcher.Skeleton(rec.Serial)] = append(g.skels[matcher.Skeleton(rec.Serial)], i)
		for _, s := range rec.OtherSerials {
			g.skels[matcher.Skeleton(s)] = append(g.skels[matcher.Skeleton(s)], i)
		}
		if m, ok := reference.LookupMake(rec.Make); ok {
			g.makeOf[i] = m.ID
		}
	}
	return g
}

// Cases returns n cases of every class.
func (g *Generator) Cases(n int) []Case {
	var out []Case
	for _, class := range generated {
		for range n {
			if c, ok := g.one(class); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

// one makes a case of the class, trying a few truths until one suits the class.
func (g *Generator) one(class string) (Case, bool) {
	for range 200 {
		i := g.r.IntN(len(g.d.Records))
		rec := &g.d.Records[i]
		norm := matcher.NormalizeSerial(rec.Serial)
		if len(norm) < 5 {
			continue // too short for every corruption to leave a meaningful query
		}
		q := g.describe(i)
		ok := true
		switch class {
		case "exact":
			q.Serial = rec.Serial
		case "format":
			q.Serial, ok = g.formatNoise(rec.Serial, norm)
		case "confusable":
			q.Serial, ok = g.confuse(norm)
		case "sub1", "transpose", "insert", "delete":
			q.Serial, ok = g.edit(norm, class)
		case "edit2":
			q.Serial, ok = g.edit2(norm)
		case "unread1":
			b := []byte(norm)
			b[g.r.IntN(len(b))] = '?'
			q.Serial = string(b)
		case "run":
			q.Serial, ok = g.run(norm)
		case "token":
			q.Serial, ok = g.token(rec.Serial, norm)
		case "mark":
			q.Serial, ok = g.mark(norm)
		case "tail":
			q.Serial, ok = g.tail(rec.Serial, norm)
		case "alias":
			q.Serial = rec.Serial
			ok = g.alias(&q, i)
		case "neg-clear":
			return g.clearNegative()
		case "neg-next":
			q.Serial, ok = g.next(norm)
		case "neg-make":
			q.Serial = rec.Serial
			ok = g.otherMake(&q, i)
		}
		if !ok {
			continue
		}
		truth := i
		if IsNegative(class) {
			truth = -1
		}
		return Case{Class: class, Query: q, Truth: truth}, true
	}
	return Case{}, false
}

// describe is what an officer reads off the firearm besides the serial: make, calibre and type as
// the record has them, the model half of the time.
func (g *Generator) describe(i int) matcher.Query {
	rec := &g.d.Records[i]
	q := matcher.Query{Make: rec.Make, Calibre: rec.Calibre, Type: rec.Type}
	if g.r.IntN(2) == 0 {
		q.Model = rec.Model
	}
	return q
}

// present reports whether some record carries a serial with this skeleton.
func (g *Generator) present(serial string) bool {
	_, ok := g.skels[matcher.Skeleton(serial)]
	return ok
}
