package eval

import (
	"slices"
	"strings"
	"unicode"

	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/matcher"
)

// corpus is every serial of the dataset in the forms the ceiling and the baseline compare, kept
// apart from the matcher so that neither relies on the matcher's own structures. It is
// pointer-free (strings in one arena) so that it does not slow the garbage collector while the
// matcher's latency is measured beside it.
type corpus struct {
	arena   []byte
	skelOff []uint32 // serial j's skeleton is arena[skelOff[j]:normOff[j]]
	normOff []uint32 // and its normal form arena[normOff[j]:skelOff[j+1]]
	rec     []int32  // record of each serial
	first   []int32  // per record, its first serial (serials are stored record by record)
	makeID  []uint16 // per record: its make, interned
	typeID  []uint8  // per record: its type, interned
	calID   []uint16 // per record: its calibre class, interned
	modelID []uint32 // per record: its model folded, interned (0: none)
	makes   map[string]uint16
	types   map[string]uint8
	cals    map[string]uint16
	models  map[string]uint32
	modelOf []string         // folded model by id
	ids     []byte           // record ids, concatenated
	idOff   []uint32         // record i's id is ids[idOff[i]:idOff[i+1]]
	byID    map[uint64]int32 // hash of a record id -> record
}

func newCorpus(d *Dataset) *corpus {
	n := len(d.Records)
	c := &corpus{makeID: make([]uint16, n), typeID: make([]uint8, n), first: make([]int32, n+1),
		calID: make([]uint16, n), modelID: make([]uint32, n), cals: map[string]uint16{},
		models: map[string]uint32{}, modelOf: []string{""},
		makes: map[string]uint16{}, types: map[string]uint8{}, idOff: make([]uint32, n+1),
		byID: make(map[uint64]int32, n)}
	for i := range d.Records {
		r := &d.Records[i]
		c.first[i] = int32(len(c.rec))
		for _, s := range append([]string{r.Serial}, r.OtherSerials...) {
			n := matcher.NormalizeSerial(s)
			if n == "" {
				continue
			}
			c.skelOff = append(c.skelOff, uint32(len(c.arena)))
			c.arena = append(c.arena, matcher.Skeleton(s)...)
			c.normOff = append(c.normOff, uint32(len(c.arena)))
			c.arena = append(c.arena, n...)
			c.rec = append(c.rec, int32(i))
		}
		c.makeID[i] = intern(c.makes, makeKey(r.Make))
		c.typeID[i] = intern(c.types, r.Type)
		c.calID[i] = intern(c.cals, calibreKey(r.Calibre))
		if m := foldModel(r.Model); m != "" {
			id, ok := c.models[m]
			if !ok {
				id = uint32(len(c.modelOf))
				c.models[m] = id
				c.modelOf = append(c.modelOf, m)
			}
			c.modelID[i] = id
		}
		c.idOff[i] = uint32(len(c.ids))
		c.ids = append(c.ids, r.ID...)
		c.byID[idHash(r.ID)] = int32(i)
	}
	c.idOff[n] = uint32(len(c.ids))
	c.first[n] = int32(len(c.rec))
	c.skelOff = append(c.skelOff, uint32(len(c.arena)))
	return c
}

func intern[T uint8 | uint16](m map[string]T, s string) T {
	if id, ok := m[s]; ok {
		return id
	}
	id := T(len(m) + 1)
	m[s] = id
	return id
}

// id returns record i's id.
func (c *corpus) id(i int) string { return string(c.ids[c.idOff[i]:c.idOff[i+1]]) }

// index returns the record with the given id, or -1.
func (c *corpus) index(id string) int {
	if i, ok := c.byID[idHash(id)]; ok && c.id(int(i)) == id {
		return int(i)
	}
	return -1
}

func idHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (c *corpus) skel(j int) []byte { return c.arena[c.skelOff[j]:c.normOff[j]] }
func (c *corpus) norm(j int) []byte { return c.arena[c.normOff[j]:c.skelOff[j+1]] }

// makeKey resolves a make for comparison: its table id, or its spelling folded.
func makeKey(s string) string {
	if m, ok := reference.LookupMake(s); ok {
		return m.ID
	}
	return "~" + strings.ToUpper(strings.Join(strings.Fields(s), " "))
}

// calibreKey resolves a calibre for comparison: its class id, or its spelling folded.
func calibreKey(s string) string {
	if c, ok := reference.LookupCalibre(s); ok {
		return c.ID
	}
	return "~" + foldModel(s)
}

// foldModel folds a model (or any name) to upper-case letters and digits.
func foldModel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// queryForms returns the normal form and skeleton of a query serial, wildcards kept, and how many
// '*' it has.
func queryForms(serial string) (norm, skel string, stars int) {
	var nb, sb strings.Builder
	for _, r := range serial {
		switch r {
		case '?', '*':
			if r == '*' && strings.HasSuffix(nb.String(), "*") {
				continue
			}
			nb.WriteRune(r)
			sb.WriteRune(r)
			if r == '*' {
				stars++
			}
		default:
			nb.WriteString(matcher.NormalizeSerial(string(r)))
			sb.WriteString(matcher.Skeleton(string(r)))
		}
	}
	return trimZeros(nb.String()), trimZeros(sb.String()), stars
}

func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		return "0"
	}
	return t
}

// rankKey orders records by what a query can tell apart: agreement with the make, type, calibre
// and model it gives (higher is better), then confusable-aware distance, then plain distance
// (lower is better). For queries with a mark glued to the serial or a part of it left unread (see
// scanner.affix) the distance has tiers: the same serial, then a serial that is the query's prefix
// or suffix (or the other way round) by how many characters are extra, then the plain distance.
type rankKey struct {
	agree      int
	tier       int
	cdist, pd  int
	record     int32
	comparable bool
}

// better reports whether a ranks strictly above b (ties are equal keys).
func (a rankKey) better(b rankKey) bool {
	if a.agree != b.agree {
		return a.agree > b.agree
	}
	if a.tier != b.tier {
		return a.tier < b.tier
	}
	if a.cdist != b.cdist {
		return a.cdist < b.cdist
	}
	return a.pd < b.pd
}

// scanner compares one query with every serial of the corpus.
type scanner struct {
	c            *corpus
	qnorm, qskel string
	qskelB       []byte
	stars        int
	qmake        uint16
	qtypes       []uint8
	qcal         uint16
	qmodel       string
	hist         histogram // of the query skeleton's read characters
	// affix ranks by the tiers of rankKey: the query may hold a mark besides the serial, or only a
	// part of it.
	affix bool
}

func (c *corpus) scanner(q matcher.Query) *scanner {
	s := &scanner{c: c, qmake: c.makes[makeKey(q.Make)], qmodel: foldModel(q.Model)}
	if q.Calibre != "" {
		s.qcal = c.cals[calibreKey(q.Calibre)]
	}
	s.qnorm, s.qskel, s.stars = queryForms(q.Serial)
	types, _ := reference.LookupType(q.Type)
	if len(types) == 0 && q.Type != "" {
		types = []string{q.Type}
	}
	for _, t := range types {
		if id, ok := c.types[t]; ok {
			s.qtypes = append(s.qtypes, id)
		}
	}
	s.qskelB = []byte(s.qskel)
	s.hist = histOf(s.qskelB)
	return s
}

// agree scores the agreement of record i with the query: make counts double, type, calibre and
// model once each. A model agrees when one folded spelling holds the other ("GLOCK17" and "17").
func (s *scanner) agree(i int32) int {
	a := 0
	if s.qmake != 0 && s.qmake == s.c.makeID[i] {
		a += 2
	}
	if slices.Contains(s.qtypes, s.c.typeID[i]) {
		a++
	}
	if s.qcal != 0 && s.qcal == s.c.calID[i] {
		a++
	}
	if s.qmodel != "" && s.c.modelID[i] != 0 {
		if m := s.c.modelOf[s.c.modelID[i]]; m == s.qmodel ||
			len(m) >= 2 && len(s.qmodel) >= 2 && (strings.Contains(m, s.qmodel) || strings.Contains(s.qmodel, m)) {
			a++
		}
	}
	return a
}

// keyOf computes record i's key exactly (no bound).
func (s *scanner) keyOf(i int32) rankKey {
	k := rankKey{agree: s.agree(i), cdist: 1 << 20, pd: 1 << 20, record: i, comparable: true}
	for j := s.c.first[i]; j < s.c.first[i+1]; j++ {
		cd := Distance(string(s.c.skel(int(j))), s.qskel)
		pd := Distance(string(s.c.norm(int(j))), s.qnorm)
		if cd < k.cdist || cd == k.cdist && pd < k.pd {
			k.cdist, k.pd = cd, pd
		}
	}
	return k
}

// each calls f with the key of every record that has a serial within bound (confusable-aware).
func (s *scanner) each(bound int, f func(k rankKey)) {
	c := s.c
	cur := rankKey{record: -1}
	flush := func() {
		if cur.record >= 0 && cur.comparable {
			cur.agree = s.agree(cur.record)
			f(cur)
		}
	}
	for j := range c.rec {
		if c.rec[j] != cur.record {
			flush()
			cur = rankKey{record: c.rec[j], cdist: 1 << 20, pd: 1 << 20}
		}
		skel := c.skel(j)
		if !lengthOK(len(skel), len(s.qskel), s.stars, bound) || !s.hist.within(skel, s.stars > 0, bound) {
			continue
		}
		cd := distanceWithin(string(skel), s.qskel, bound)
		if cd > bound {
			continue
		}
		pd := Distance(string(c.norm(j)), s.qnorm)
		if !cur.comparable || cd < cur.cdist || cd == cur.cdist && pd < cur.pd {
			cur.cdist, cur.pd, cur.comparable = cd, pd, true
		}
	}
	flush()
}

// histogram is a query skeleton's character counts, for a cheap filter before the alignment.
type histogram struct {
	count    [256]int8
	distinct []byte // the characters read, each once
	known    int    // characters read
	unread   int    // '?'
}

func histOf(q []byte) histogram {
	var h histogram
	for _, c := range q {
		switch c {
		case '?':
			h.unread++
		case '*':
		default:
			if h.count[c] == 0 {
				h.distinct = append(h.distinct, c)
			}
			h.count[c]++
			h.known++
		}
	}
	return h
}

// within is a necessary condition for the distance between s and the query to be at most bound:
// an edit changes the character counts by at most one in each direction, so the query characters
// s lacks and (without '*') the characters of s the query lacks each bound the distance from
// below; a '?' may stand for one of the latter.
func (h *histogram) within(s []byte, star bool, bound int) bool {
	var cnt [256]int8
	for _, c := range s {
		cnt[c]++
	}
	missing := 0
	for _, c := range h.distinct {
		if d := h.count[c] - cnt[c]; d > 0 {
			missing += int(d)
		}
	}
	if missing > bound {
		return false
	}
	if star {
		return true
	}
	extra := len(s) - (h.known - missing) - h.unread
	return extra <= bound
}
