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
	// Independent judges every record on its own: a HIT does not make the records below it
	// context. For callers whose "records" are not alternatives to one another (the node's late
	// window indexes remembered searches and asks which of them a new record answers).
	Independent bool
}

// Result is one ranked candidate.
type Result struct {
	Key    string
	Score  float64 // [0,1]
	Hit    bool    // score >= hit threshold (and the HIT rules hold)
	Review bool    // score >= review threshold
	Why    Why     // short human-readable reasons per field
	Group  uint8   // the record's Entry.Group
	// Tie is how many records, this one included, agree equally with everything the query shows
	// (the neighbours of a factory run under a '?'); 0 when none shares this one's evidence.
	Tie int
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
	// Hit says why a score at the HIT threshold is not a HIT, or why a record is only context.
	Hit string `json:"hit,omitempty"`
	// Tie names the records that fit the query as well as this one, and what to read next.
	Tie string `json:"tie,omitempty"`
}

// Map is w as a field-to-reason map without the empty fields (the form a stored hit keeps).
func (w Why) Map() map[string]string {
	m := make(map[string]string, 7)
	for _, kv := range [...][2]string{{"serial", w.Serial}, {"make", w.Make}, {"calibre", w.Calibre},
		{"type", w.Type}, {"model", w.Model}, {"hit", w.Hit}, {"tie", w.Tie}} {
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
	// HIT margin and ties are judged without it (see verdicts).
	common  float64
	verdict verdict
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
	return ix.rank(sc, limit, q.Independent)
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
	if !qi.twoEdits() {
		return
	}
	bound := min(bitsPerChar*float64(qi.known-1), bitsSerialMax) - 2*costSlip + qa.maxBits()
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

// twoEdits reports whether records two edits from the query may be sought: from minKnownTwo
// read characters, and from minKnownFuzzy when the query names a make. Four characters within
// two edits of a serial match too much to mean anything alone, but the make tags keep what is
// found to that make's serials, and a serial of six misread into four by two dropped characters
// ("931Y" for L9531Y) was otherwise never found (on the suite at 1.4M, three quarters of the
// two-edit queries whose truth missed the top 10). Such a query seeks only what reads it with at
// most one character of its own dropped (secondEdit): a record two characters longer, or one
// longer with a character replaced.
func (qi *queryInfo) twoEdits() bool {
	if qi.wild() {
		return false
	}
	return editBudget(qi.known) >= 2 || qi.known >= minKnownFuzzy && qi.makeTag != anyMake
}

// readExactly reports whether a candidate's serial has the query's skeleton and its record the
// query's make (canonical, so an alias counts) and nothing the query describes contradicts it. A
// record of the make whose model, calibre or type differs does not explain the query: the firearm
// may be another of the make whose serial was misread into this one's (on the suite at 1.4M, two-
// edit queries with a model: recall@10 0.900 against a ceiling of 0.962).
func readExactly(cands []candidate) bool {
	for i := range cands {
		c := &cands[i]
		if (c.m.kind == kindExact || c.m.kind == kindConfusable) && c.ev.makeAgree && !c.ev.contradicts() {
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

// rank applies the HIT rules, orders the candidates by their evidence (bits; the record key breaks
// ties), maps every candidate's evidence to the score shown in the band of its verdict (see
// verdicts) and builds the results for the best limit of them.
func (ix *Index) rank(sc *scratch, limit int, independent bool) []Result {
	cands := sc.cands
	ix.verdicts(cands, sc.qskel, independent)
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
	// The score is monotone in the evidence within each verdict's band and the bands are ordered,
	// so this is the order of the evidence; the node, which merges answers by score, keeps it.
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
	shown := order[:min(limit, len(order))]
	out := make([]Result, 0, len(shown))
	for _, k := range shown {
		out = append(out, ix.result(&cands[k.i]))
	}
	ix.sayTies(cands, order, len(shown), out)
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
		Hit:    c.verdict == verdictHit,
		Review: c.verdict >= verdictReview,
		Why:    why,
		Group:  ix.recs.rec.at(c.slot).group,
	}
}
