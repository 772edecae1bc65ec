package matcher

import (
	"fmt"
	"math"
	"strings"
)

// verdict is what a candidate is shown as.
type verdict uint8

const (
	verdictNone   verdict = iota // below the review threshold, or context under a HIT
	verdictReview                // close but not certain: an officer should look
	verdictHit                   // a HIT: the record's NCB is notified
)

// bandSoft is the width of the top of a verdict's band in which scores are compressed rather
// than cut (see below).
const bandSoft = 0.05

// reviewMargin is the evidence a misread serial must lead every other record by to be a REVIEW,
// per edit.
const reviewMargin = 1.0

// tieEpsilon is how close two records' evidence must be to count as a tie.
const tieEpsilon = 1e-9

// verdicts decides every candidate's verdict and the score it shows. The evidence (bits) orders
// the candidates; the verdict puts the score in its band (a HIT at or above the HIT threshold, a
// REVIEW between the two thresholds, anything else below the review threshold), and within a band
// the score grows with the evidence. A withheld HIT is therefore a REVIEW whose score still tells
// one edit from two, where a clamp under the threshold made them equal.
//
// When a record is a HIT, every other record is context for it: they are shown below the review
// threshold, since the HIT explains the query (an exact FRX000123 is not nine REVIEWs of its
// factory neighbours beside it). A misread serial that does not stand out is no REVIEW either
// (below). Neither applies when the candidates are independent (Query.Independent).
func (ix *Index) verdicts(cands []candidate, qskel []byte, independent bool) {
	hitT, reviewT := ix.opts.HitThreshold, ix.opts.ReviewThreshold
	// The HIT margin and ties compare evidence without term frequency: a serial many records carry
	// proves less about which of them is meant, but it is no less likely to be the one under a '?'
	// than a rare serial beside it, so rarity must not make a HIT out of a tie.
	top, best, second, bestOther := math.Inf(-1), math.Inf(-1), math.Inf(-1), math.Inf(-1)
	for i := range cands {
		c := &cands[i]
		top = max(top, c.bits)
		switch b := c.bits + c.common; {
		case b > best:
			best, second = b, best
		case b > second:
			second = b
		}
		if !c.duplicateLike() {
			bestOther = max(bestOther, c.bits+c.common)
		}
	}
	anyHit := false
	for i := range cands {
		c := &cands[i]
		raw := scoreOf(c.bits)
		c.score = raw // the raw score until the band is applied below (one exponential a candidate)
		c.verdict, c.withheld = verdictNone, ""
		if raw >= hitT {
			runnerUp := best
			if c.bits+c.common == best {
				runnerUp = second
			}
			if c.duplicateLike() {
				runnerUp = bestOther
			}
			if c.withheld = ix.withheld(c, runnerUp, top); c.withheld == "" {
				c.verdict, anyHit = verdictHit, true
			}
		}
		if c.verdict == verdictNone && raw >= reviewT {
			c.verdict = verdictReview
		}
	}
	// A misread serial is a REVIEW only when what was misread looks like a misreading rather than
	// like another firearm (chanceNeighbour). Those that do not, and everything with no more
	// evidence than they have, stay below the review threshold (so the verdicts keep the order of
	// the evidence).
	cut := math.Inf(-1)
	for i := range cands {
		if independent || anyHit {
			break // under a HIT every REVIEW is context (below)
		}
		c := &cands[i]
		if c.verdict != verdictReview || c.m.edits == 0 && c.m.glued == 0 {
			continue
		}
		runnerUp := best
		if c.bits+c.common == best {
			runnerUp = second
		}
		if why := ix.chanceNeighbour(c, c.bits+c.common-runnerUp, qskel); why != "" {
			cut = max(cut, c.bits)
			c.withheld = why
		}
	}
	for i := range cands {
		if c := &cands[i]; c.verdict == verdictReview && c.bits <= cut {
			c.verdict = verdictNone
			if c.withheld == "" || !strings.HasPrefix(c.withheld, "below review") {
				c.withheld = "below review: a record above is no lead either"
			}
		}
	}
	soft := min(bandSoft, (hitT-reviewT)/2)
	for i := range cands {
		c := &cands[i]
		if anyHit && !independent && c.verdict == verdictReview {
			c.verdict, c.withheld = verdictNone, "context: the HIT above explains the query"
		}
		raw := c.score
		switch c.verdict {
		case verdictHit:
			c.score = raw
		case verdictReview:
			c.score = below(raw, hitT, soft)
		default:
			c.score = below(raw, reviewT, soft)
		}
	}
}

// chanceNeighbour says why a candidate whose serial was matched with edits is no REVIEW, or ""
// when it is one. lead is its evidence over the best other record (both without term
// frequency), qskel the query's skeleton.
//
// Nearly every serial officers check is unrecorded, and an unrecorded serial often lies an edit
// or two from a recorded one: the firearms of a factory run differ in their counting digits. What
// tells a misreading from such a chance neighbour, measured on the evaluation suite (tuning seed,
// clear negatives against positives whose truth ranks first, 1.4M records):
//
//   - the description: a neighbour from another run of the maker often has another calibre,
//     type or model, a misread firearm never does (the REVIEWs on clear negatives halved);
//   - the kind of edit: a run's neighbours have the same length and differ by substitutions. A
//     transposition, an inserted or a dropped character is what reading does (0 clear negatives
//     against 2,550 positives at one edit); two substitutions are a neighbour as often as a
//     misreading (34 clear negatives, 37 positives);
//   - ties: one edit from several records is no reason to show none of them (the tie is said and
//     names them); at two edits, a record that does not stand out by reviewMargin a edit is not
//     shown.
func (ix *Index) chanceNeighbour(c *candidate, lead float64, qskel []byte) string {
	switch {
	case c.ev.contradicts():
		return "below review: a lead on a record whose description differs from the query's"
	case c.m.edits == 0:
		return "" // a mark glued to the serial, no misreading
	case c.m.edits == 1:
		return ""
	case c.m.known < minKnownTwo:
		return "below review: two edits of a short serial"
	case ix.needsSubstitution(c, qskel):
		return "below review: a character replaced besides another edit, as between firearms of one run"
	case lead < reviewMargin*float64(c.m.edits):
		return "below review: other records are as close"
	}
	return ""
}

// needsSubstitution reports whether the candidate's serial cannot be read as the query with its
// edits unless one of them is a substituted character: no alignment of insertions, deletions and
// adjacent transpositions alone has as few edits. It is an alignment in which a substitution costs
// two (a deletion and an insertion): equal to the edits only when none is needed.
func (ix *Index) needsSubstitution(c *candidate, qskel []byte) bool {
	var buf [maxSerialLen]byte
	r := trimZeroish(appendSkeleton(buf[:0], ix.ser.norm(c.m.id)))
	q := trimZeroish(qskel)
	n, m := len(r), len(q)
	if n > maxSerialLen || m > maxSerialLen {
		return false
	}
	var rows [3][maxSerialLen + 1]int32
	pp, p, cur := &rows[0], &rows[1], &rows[2]
	for i := 0; i <= m; i++ {
		p[i] = int32(i)
	}
	for j := 1; j <= n; j++ {
		cur[0] = int32(j)
		for i := 1; i <= m; i++ {
			sub := int32(2)
			if r[j-1] == q[i-1] || q[i-1] == '?' {
				sub = 0
			}
			v := min(p[i-1]+sub, p[i]+1, cur[i-1]+1)
			if i > 1 && j > 1 && r[j-1] == q[i-2] && r[j-2] == q[i-1] && r[j-1] != q[i-1] {
				v = min(v, pp[i-2]+1)
			}
			cur[i] = v
		}
		pp, p, cur = p, cur, pp
	}
	return int(p[m]) > c.m.edits
}

// below maps a score under hi, monotonically: unchanged up to hi-soft, compressed above it, so
// that more evidence always shows a higher score and never reaches hi.
func below(s, hi, soft float64) float64 {
	knee := hi - soft
	if s <= knee {
		return s
	}
	x := s - knee
	return knee + soft*x/(x+soft)
}

// duplicateLike reports whether a candidate's serial is the query's as read (or confusably) and
// its record agrees with the description: equal records of that kind may be duplicates of one
// firearm, so they may all be HITs, where anything else must stand out from the crowd.
func (c *candidate) duplicateLike() bool {
	return c.m.kind <= kindConfusable && c.m.edits == 0 && (c.ev.makeAgree || c.ev.calibreAgree)
}

// withheld returns why a candidate whose score reaches the HIT threshold must still not be a HIT,
// or "" when it may be. A HIT sends a notification to a foreign NCB, so it needs more than a
// score. runnerUp is the best evidence of the records it must lead (without term frequency), top
// the most evidence of any candidate.
func (ix *Index) withheld(c *candidate, runnerUp, top float64) string {
	m := &c.m
	agree := c.ev.makeAgree || c.ev.calibreAgree
	switch {
	case c.ev.makeDiffer:
		return "withheld: make differs"
	case m.edits > 0:
		return "withheld: a misread serial is a lead, not a hit"
	case m.noise > 1 || m.glued > 0:
		return "withheld: a serial found inside another is a lead, not a hit"
	case m.kind > kindConfusable && c.ev.calibreDiffer:
		return "withheld: partial serial and calibre differs"
	case m.known < minLongSerial && !agree:
		return "withheld: short serial needs make or calibre agreement"
	case m.kind > kindConfusable && !agree:
		return "withheld: partial serial needs make or calibre agreement"
	case c.bits < top:
		return "withheld: another record matches better"
	case c.bits+c.common-runnerUp < hitMargin:
		return "withheld: other records match as well"
	}
	return ""
}

// sayTies fills the Tie count of every shown result, and for a REVIEW shared with other records
// names them (the first in the answer's order) and says what to read next. Only a REVIEW names
// anyone: the context under an exact HIT ties by the dozen (a factory run's neighbours), and
// copying their keys for nothing was a third of an exact query's allocations.
func (ix *Index) sayTies(cands []candidate, order []rankKey, shown int, out []Result) {
	if len(cands) < 2 {
		return
	}
	for r, k := range order[:shown] {
		c := &cands[k.i]
		ev := c.bits + c.common
		n := 0
		var names [4]string
		named := names[:0]
		if c.verdict != verdictReview {
			named = names[:0:0]
		}
		for _, ok := range order {
			o := &cands[ok.i]
			if math.Abs(o.bits+o.common-ev) > tieEpsilon {
				continue
			}
			n++
			if ok.i != k.i && len(named) < cap(named) {
				named = append(named, string(ix.recs.key(o.slot)))
			}
		}
		if n < 2 {
			continue
		}
		out[r].Tie = n
		if c.verdict == verdictReview {
			more := ""
			if n-1 > len(named) {
				more = fmt.Sprintf(" and %d more", n-1-len(named))
			}
			out[r].Why.Tie = fmt.Sprintf("fits as well as %s%s: read another number on the firearm (slide, barrel, frame)",
				strings.Join(named, ", "), more)
		}
	}
}
