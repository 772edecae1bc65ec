package matcher

import (
	"strings"
	"sync"
	"sync/atomic"
)

// unseen is the id of a query attribute that no record carries.
const unseen = ^uint32(0)

// queryAttrs are the query's descriptive fields resolved against the index's interned values,
// read-only so that Search never writes.
type queryAttrs struct {
	make, spelling uint32
	makeKnown      bool // the tables know the query's make (not just its spelling)
	calibre        uint32
	calibreID      string
	calSpell       uint32
	types          uint32
	hasType        bool
	model          string
}

// resolveQuery resolves q's make, calibre, type and model, through queryNames when it has seen
// the same four strings since the interned values last changed.
func (ix *Index) resolveQuery(q *Query) queryAttrs {
	gen := ix.recs.internGen()
	key := queryNameKey{q.Make, q.Calibre, q.Type, q.Model}
	if v, ok := ix.queryNames.m.Load(key); ok {
		if e := v.(*queryNameEntry); e.gen == gen {
			return e.attrs
		}
	}
	a := ix.resolveQueryOnce(q)
	if len(q.Make)+len(q.Calibre)+len(q.Type)+len(q.Model) <= maxQueryNameBytes && ix.queryNames.n.Load() < maxQueryNames {
		if _, loaded := ix.queryNames.m.Swap(key, &queryNameEntry{gen: gen, attrs: a}); !loaded {
			ix.queryNames.n.Add(1)
		}
	}
	return a
}

// resolveQueryOnce is resolveQuery without the cache. Reference lookups and folding were a tenth
// of an exact query's time, and officers type the same few makes over and over.
func (ix *Index) resolveQueryOnce(q *Query) queryAttrs {
	t := &ix.recs
	var a queryAttrs
	var makeName string
	a.make, a.spelling, makeName = t.lookupName(&t.makes, q.Make, ix.ref.MakeID)
	a.makeKnown = makeName != "" && !strings.HasPrefix(makeName, "~")
	a.calibre, a.calSpell, a.calibreID = t.lookupName(&t.calibres, q.Calibre, ix.ref.CalibreClass)
	for _, ty := range resolveTypes(ix.ref, q.Type) {
		a.hasType = true
		if id, ok := t.types.lookup(ty); ok {
			a.types |= typeBit(id)
		}
	}
	a.model = foldName(q.Model)
	return a
}

// queryNameCache maps a query's make, calibre, type and model as typed to what they resolved to.
// An entry is valid while the interned values it was resolved against are unchanged (gen): a
// write that interns a new make, spelling, calibre or type makes every entry stale, and a stale
// one is resolved again. At most maxQueryNames entries of at most maxQueryNameBytes are kept, so
// queries with made-up names cannot grow it without bound (past it, new names are resolved each
// time). Like the write side's attrCache, it takes the Reference to answer the same way for the
// life of the index.
type queryNameCache struct {
	m sync.Map // queryNameKey -> *queryNameEntry
	n atomic.Int32
}

type queryNameKey struct{ make, calibre, typ, model string }

type queryNameEntry struct {
	gen   int
	attrs queryAttrs
}

const (
	maxQueryNames     = 1 << 12
	maxQueryNameBytes = 256
)

// internGen changes whenever a value a query resolves against is interned (interners only grow).
func (t *recordTable) internGen() int {
	return len(t.makes.names) + len(t.spellings.names) + len(t.calibres.names) + len(t.types.names)
}

// makeTag is the tag the edit tier filters candidates with: every make when the query names none
// (or one no record carries: the query's make may then be misread too), its own bit otherwise.
func (a *queryAttrs) makeTag() uint32 {
	if a.make == none || a.make == unseen {
		return anyMake
	}
	return uint32(makeTag(a.make))
}

// maxBits is the most the query's fields can add to any record's evidence.
func (a *queryAttrs) maxBits() float64 {
	b := 0.0
	if a.make != none && a.make != unseen {
		b += bitsMakeAgree
	}
	switch {
	case a.calibre == none:
	case a.calibre != unseen:
		b += bitsCalibreAgree
	default:
		b += bitsCalibreClose
	}
	if a.hasType {
		b += bitsTypeAgree
	}
	if a.model != "" {
		b += bitsModelAgree
	}
	return b
}

// lookupName resolves a query's make or calibre (lookup is ref.MakeID or ref.CalibreClass) to its
// id in ids and its folded spelling's id without interning (unseen when no record carries it),
// and the table id it resolved to; all none when the field is absent or unknown.
func (t *recordTable) lookupName(ids *interner, s string, lookup func(string) (string, bool)) (id, spelling uint32, name string) {
	name, folded := resolveName(s, lookup)
	if name == "" {
		return none, none, ""
	}
	return lookupOr(ids, name), lookupOr(&t.spellings, folded), name
}

func lookupOr(in *interner, s string) uint32 {
	if id, ok := in.lookup(s); ok {
		return id
	}
	return unseen
}

// attrEvidence is what the descriptive fields say about one candidate.
type attrEvidence struct {
	bits                      float64
	makeAgree, calibreAgree   bool
	makeDiffer, calibreDiffer bool
	// typeDiffer and modelDiffer: the record's type or model contradicts the query's.
	typeDiffer, modelDiffer bool
	makeWhy, calibreWhy     string
	typeWhy, modelWhy       string
}

// compareAttrs weighs the query's fields against the record in slot. Absent or unknown values on
// either side are no evidence either way.
func (ix *Index) compareAttrs(q *queryAttrs, slot uint32) attrEvidence {
	t := &ix.recs
	r := &t.rec.at(slot).attrs
	var ev attrEvidence
	switch {
	case q.make == none:
	case r.make == none:
		ev.makeWhy = "not recorded"
	case q.make == r.make:
		ev.bits += bitsMakeAgree
		ev.makeAgree = true
		ev.makeWhy = "alias"
		if q.spelling == r.spelling {
			ev.makeWhy = "same"
		}
	case !q.makeKnown || strings.HasPrefix(t.makes.names[r.make], "~"):
		ev.bits -= costMakeUnsure
		ev.makeWhy = "differs (unrecognised spelling)"
	default:
		ev.bits -= costMakeDiffer
		ev.makeDiffer = true
		ev.makeWhy = "differs"
	}
	switch {
	case q.calibre == none:
	case r.calibre == none:
		ev.calibreWhy = "not recorded"
	case q.calibre == r.calibre:
		ev.bits += bitsCalibreAgree
		ev.calibreAgree = true
		ev.calibreWhy = "equivalent"
		if q.calSpell == r.calSpell {
			ev.calibreWhy = "same"
		}
	case ix.ref.CalibresClose(q.calibreID, t.calibres.names[r.calibre]):
		ev.bits += bitsCalibreClose
		ev.calibreWhy = "close"
	default:
		ev.bits -= costCalibre
		ev.calibreDiffer = true
		ev.calibreWhy = "differs"
	}
	switch {
	case !q.hasType:
	case r.types == 0:
		ev.typeWhy = "not recorded"
	case q.types&r.types != 0:
		ev.bits += bitsTypeAgree
		ev.typeWhy = "same"
	default:
		ev.bits -= costTypeDiffer
		ev.typeDiffer = true
		ev.typeWhy = "differs"
	}
	if q.model != "" {
		rm := t.models.names[r.model]
		switch {
		case rm == "":
			ev.modelWhy = "not recorded"
		case rm == q.model:
			ev.bits += bitsModelAgree
			ev.modelWhy = "same"
		case len(q.model) >= 2 && len(rm) >= 2 &&
			(strings.Contains(rm, q.model) || strings.Contains(q.model, rm)):
			ev.bits += bitsModelSimilar
			ev.modelWhy = "similar"
		default:
			ev.bits -= costModelDiffer
			ev.modelDiffer = true
			ev.modelWhy = "differs"
		}
	}
	return ev
}

// contradicts reports whether the record contradicts anything the query describes (make, calibre,
// type or model; a value missing on either side contradicts nothing).
func (ev *attrEvidence) contradicts() bool {
	return ev.makeDiffer || ev.calibreDiffer || ev.typeDiffer || ev.modelDiffer
}
