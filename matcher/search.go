package matcher

import (
	"bytes"
	"cmp"
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
	Score  float64           // [0,1]
	Hit    bool              // score >= hit threshold (and the HIT rules hold)
	Review bool              // score >= review threshold
	Why    map[string]string // short human-readable reasons per field, e.g. {"serial": "exact", "make": "alias"}
}

// candidate is one record under consideration with its best serial match.
type candidate struct {
	slot     uint32
	m        serialMatch
	bits     float64
	score    float64
	ev       attrEvidence
	withheld string
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
	qi.makeTag = qa.makeTag()
	ix.generate(&qi, sc)
	if len(sc.cands) == 0 {
		return nil
	}
	for i := range sc.cands {
		c := &sc.cands[i]
		c.ev = ix.compareAttrs(&qa, c.slot)
		c.bits = c.m.serialBits(int(ix.groups.rec[ix.ser.rec[c.m.id].group].live)) + c.ev.bits
		if ix.ser.rec[c.m.id].other {
			c.bits -= costOtherSerial
		}
	}
	return ix.rank(sc.cands, limit)
}

// rank scores the candidates, applies the HIT rules, orders them (by the score shown, then by the
// evidence, then by key) and builds the results for the best limit of them.
func (ix *Index) rank(cands []candidate, limit int) []Result {
	best, second := -1e9, -1e9
	for i := range cands {
		switch b := cands[i].bits; {
		case b > best:
			best, second = b, best
		case b > second:
			second = b
		}
	}
	for i := range cands {
		c := &cands[i]
		runnerUp := best
		if c.bits == best {
			runnerUp = second
		}
		c.score = scoreOf(c.bits)
		if c.score >= ix.opts.HitThreshold {
			if c.withheld = ix.withheld(c, runnerUp); c.withheld != "" {
				c.score = min(c.score, ix.opts.HitThreshold-0.001)
			}
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(b.bits, a.bits); c != 0 {
			return c
		}
		return bytes.Compare(ix.recs.key(a.slot), ix.recs.key(b.slot))
	})
	out := make([]Result, 0, min(limit, len(cands)))
	for i := range cands[:min(limit, len(cands))] {
		out = append(out, ix.result(&cands[i]))
	}
	return out
}

// result turns a ranked candidate into a Result.
func (ix *Index) result(c *candidate) Result {
	why := map[string]string{"serial": c.m.describe(ix.ser.rec[c.m.id].other)}
	for _, kv := range [...][2]string{{"make", c.ev.makeWhy}, {"calibre", c.ev.calibreWhy},
		{"type", c.ev.typeWhy}, {"model", c.ev.modelWhy}, {"hit", c.withheld}} {
		if kv[1] != "" {
			why[kv[0]] = kv[1]
		}
	}
	return Result{
		Key:    string(ix.recs.key(c.slot)),
		Score:  c.score,
		Hit:    c.score >= ix.opts.HitThreshold,
		Review: c.score >= ix.opts.ReviewThreshold,
		Why:    why,
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
	case c.bits-runnerUp < hitMargin && (m.kind != kindExact || !agree):
		// Equal exact serials that agree with the description may be duplicate records of one
		// firearm, so they may all be HITs; anything else must stand out from the crowd.
		return "withheld: other records match as well"
	}
	return ""
}
