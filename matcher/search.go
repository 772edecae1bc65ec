package matcher

import (
	"bytes"
	"cmp"
	"math"
	"slices"
)

// Query is one search.
type Query struct {
	Serial                     string // '?' one unreadable char, '*' a run of unreadable chars
	Make, Model, Calibre, Type string // optional narrowing / scoring evidence
	Limit                      int    // default 10, at most MaxLimit
}

// Result is one ranked candidate.
type Result struct {
	Key    string
	Score  float64 // [0,1]
	Hit    bool    // score >= hit threshold (and the HIT rules hold)
	Review bool    // score >= review threshold
	Why    Why     // short human-readable reasons per field
	Group  uint8   // the record's Entry.Group
}

// Why gives a result's reasons in a few words per field, e.g. serial "exact", make "alias"; a field
// with nothing to say is empty. Its JSON form is the object the API shows (empty fields omitted).
// A struct rather than a map: ten maps a search were a tenth of an exact query's time.
type Why struct {
	Serial  string `json:"serial,omitempty"`
	Make    string `json:"make,omitempty"`
	Calibre string `json:"calibre,omitempty"`
	Type    string `json:"type,omitempty"`
	Model   string `json:"model,omitempty"`
	// Hit says why a score at the HIT threshold is not a HIT.
	Hit string `json:"hit,omitempty"`
}

// Map is w as a field-to-reason map without the empty fields (the form a stored hit keeps).
func (w Why) Map() map[string]string {
	m := make(map[string]string, 6)
	for _, kv := range [...][2]string{{"serial", w.Serial}, {"make", w.Make}, {"calibre", w.Calibre},
		{"type", w.Type}, {"model", w.Model}, {"hit", w.Hit}} {
		if kv[1] != "" {
			m[kv[0]] = kv[1]
		}
	}
	return m
}

// candidate is one record under consideration with its best serial match.
type candidate struct {
	slot     uint32
	m        serialMatch
	bits     float64
	score    float64
	ev       attrEvidence
	evDone   bool // ev is computed (it depends on the record only, not on the serial match)
	withheld string
	// common is what term frequency took from bits: log2 of the serials sharing the skeleton. The
	// HIT margin is judged without it (see rank).
	common float64
}

// Search returns the records that best match q, best first, ties broken by Key. It reads the index
// only, so concurrent Searches are safe while no Put or Delete runs.
func (ix *Index) Search(q Query) []Result {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	sc := getScratch()
	defer putScratch(sc)
	qi := newQueryInfo(q.Serial, sc)
	if qi.known == 0 {
		return nil
	}
	qa := ix.resolveQuery(&q)
	ix.collect(&qi, &qa, sc, limit)
	if len(sc.cands) == 0 {
		return nil
	}
	return ix.rank(sc, limit)
}

// collect generates and weighs the candidates of a query. Records two edits from a query without
// wildcards are sought only when they could matter:
//
//   - not when limit candidates (and two, which decide the HIT margin) already outweigh the most
//     any such record could weigh: none of them could enter the results or change a HIT;
//   - not when the serial is recorded, as read, under the make the query names (readExactly).
//     That is what nearly every exact query is, and the second edit is two thirds of its work
//     (deletion-index probes of a 270 MB index, each a cache miss). What it gives up: a serial
//     misread twice that lands exactly on another recorded serial of the same make. On the
//     evaluation suite at 1.4M records this moved recall@10 of two-edit queries from 0.936 to
//     0.934 (4 of 2,000), and no other class; see DESIGN.md.
func (ix *Index) collect(qi *queryInfo, qa *queryAttrs, sc *scratch, limit int) {
	qi.makeTag = qa.makeTag()
	ix.generate(qi, qa, sc)
	ix.weigh(qa, sc)
	if qi.wild() || editBudget(qi.known) < 2 {
		return
	}
	bound := min(bitsPerChar*float64(qi.known-1), bitsSerialMax) - 2*costEdit + qa.maxBits()
	need, above := max(limit, 2), 0
	for i := range sc.cands {
		if sc.cands[i].bits > bound {
			above++
		}
	}
	if above >= need || readExactly(sc.cands) {
		sc.skipped = true
		return
	}
	ix.secondEdit(qi, sc)
	ix.weigh(qa, sc)
}

// readExactly reports whether a candidate's serial has the query's skeleton and its record the
// query's make (canonical, so an alias counts).
func readExactly(cands []candidate) bool {
	for i := range cands {
		c := &cands[i]
		if (c.m.kind == kindExact || c.m.kind == kindConfusable) && c.ev.makeAgree {
			return true
		}
	}
	return false
}

// weigh computes every candidate's bits of evidence. The records are touched first in a loop of
// independent loads (see probe).
func (ix *Index) weigh(qa *queryAttrs, sc *scratch) {
	t := uint32(0)
	for i := range sc.cands {
		if !sc.cands[i].evDone {
			t += ix.recs.rec.at(sc.cands[i].slot).keyAddr
		}
	}
	sc.touch += int(t)
	for i := range sc.cands {
		c := &sc.cands[i]
		if !c.evDone {
			c.ev, c.evDone = ix.compareAttrs(qa, c.slot), true
		}
		sr := ix.ser.rec.at(c.m.id)
		live := int(ix.groups.rec.at(sr.group).live)
		c.bits = c.m.serialBits(live) + c.ev.bits
		c.common = 0
		if live > 1 {
			c.common = math.Log2(float64(live))
		}
		if sr.other {
			c.bits -= costOtherSerial
		}
	}
}

// rank scores the candidates, applies the HIT rules, orders them (by the score shown, then by the
// evidence, then by key) and builds the results for the best limit of them.
func (ix *Index) rank(sc *scratch, limit int) []Result {
	cands := sc.cands
	// The HIT margin compares evidence without term frequency: a serial many records carry proves
	// less about which of them is meant, but it is no less likely to be the one under a '?' than a
	// rare serial beside it, so rarity must not make a HIT out of a tie.
	best, second := -1e9, -1e9
	for i := range cands {
		switch b := cands[i].bits + cands[i].common; {
		case b > best:
			best, second = b, best
		case b > second:
			second = b
		}
	}
	for i := range cands {
		c := &cands[i]
		runnerUp := best
		if c.bits+c.common == best {
			runnerUp = second
		}
		c.score = scoreOf(c.bits)
		if c.score >= ix.opts.HitThreshold {
			if c.withheld = ix.withheld(c, runnerUp); c.withheld != "" {
				c.score = min(c.score, ix.opts.HitThreshold-0.001)
			}
		}
	}
	order := sc.order[:0]
	for i := range cands {
		order = append(order, rankKey{score: cands[i].score, bits: cands[i].bits, i: int32(i)})
	}
	if len(cands) > 1 {
		// Ties are broken by key, and the neighbours of a factory run tie by the dozen: read every
		// key in one loop of independent loads, or the sort's comparisons miss the cache one
		// after another.
		t := byte(0)
		for i := range cands {
			if k := ix.recs.key(cands[i].slot); len(k) > 0 {
				t += k[0]
			}
		}
		sc.touch += int(t)
	}
	slices.SortFunc(order, func(a, b rankKey) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(b.bits, a.bits); c != 0 {
			return c
		}
		return bytes.Compare(ix.recs.key(cands[a.i].slot), ix.recs.key(cands[b.i].slot))
	})
	sc.order = order
	out := make([]Result, 0, min(limit, len(cands)))
	for _, k := range order[:min(limit, len(order))] {
		out = append(out, ix.result(&cands[k.i]))
	}
	return out
}

// rankKey is what rank orders a candidate by (the score shown, then the evidence; the record key
// breaks ties), with the candidate's position: sorting these moves 24 bytes rather than a
// candidate.
type rankKey struct {
	score, bits float64
	i           int32
}

// result turns a ranked candidate into a Result.
func (ix *Index) result(c *candidate) Result {
	why := Why{Serial: c.m.describe(ix.ser.rec.at(c.m.id).other), Make: c.ev.makeWhy, Calibre: c.ev.calibreWhy,
		Type: c.ev.typeWhy, Model: c.ev.modelWhy, Hit: c.withheld}
	return Result{
		Key:    string(ix.recs.key(c.slot)),
		Score:  c.score,
		Hit:    c.score >= ix.opts.HitThreshold,
		Review: c.score >= ix.opts.ReviewThreshold,
		Why:    why,
		Group:  ix.recs.rec.at(c.slot).group,
	}
}

// withheld returns why a candidate whose score reaches the HIT threshold must still not be a HIT,
// or "" when it may be. A HIT sends a notification to a foreign NCB, so it needs more than a score.
func (ix *Index) withheld(c *candidate, runnerUp float64) string {
	m := &c.m
	agree := c.ev.makeAgree || c.ev.calibreAgree
	switch {
	case c.ev.makeDiffer:
		return "withheld: make differs"
	case m.edits > 0:
		return "withheld: a misread serial is a lead, not a hit"
	case m.noise > 1:
		return "withheld: a serial found inside another is a lead, not a hit"
	case m.kind > kindConfusable && c.ev.calibreDiffer:
		return "withheld: partial serial and calibre differs"
	case m.known < minLongSerial && !agree:
		return "withheld: short serial needs make or calibre agreement"
	case m.kind > kindConfusable && !agree:
		return "withheld: partial serial needs make or calibre agreement"
	case c.bits+c.common-runnerUp < hitMargin && (m.kind != kindExact || !agree):
		// Equal exact serials that agree with the description may be duplicate records of one
		// firearm, so they may all be HITs; anything else must stand out from the crowd.
		return "withheld: other records match as well"
	}
	return ""
}
