package matcher

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds on candidate generation, chosen on the evaluation suite (see DESIGN.md).
const (
	minKnownFuzzy   = 4      // read characters a query needs before edits are tried at all
	minKnownTwo     = 5      // ... before two edits are tried
	minKnownWild    = 3      // ... before a pattern with '?' or '*' is searched
	minKnownNoise   = 5      // ... before prefix or suffix tokens are added or dropped
	maxNoiseExtra   = 6      // longest prefix or suffix token that may be added or dropped
	maxFuzzyLen     = 40     // longest pattern the wildcard tier searches
	maxWildScan     = 400000 // groups a wildcard search may look at
	maxWildGroups   = 20000  // groups a wildcard search may report
	maxWildPrefixes = 27     // prefixes a '?' in a pattern's fixed end may expand into
)

// queryInfo is the normalised query serial and what the tiers need to know about it.
type queryInfo struct {
	raw                  string
	qn, qskel            []byte
	known, unread, stars int
	// makeTag is the tag of the query's make, or anyMake when the query names none; with a make,
	// misread serials are sought among that make (and records without one) only.
	makeTag uint32
}

func newQueryInfo(raw string, sc *scratch) queryInfo {
	qi := queryInfo{raw: raw, makeTag: anyMake}
	qi.qn = normalize(sc.buf[:0], raw, true)
	if len(qi.qn) > maxSerialLen {
		qi.qn = qi.qn[:maxSerialLen]
	}
	sc.buf = qi.qn
	qi.qskel = appendSkeleton(sc.qskel[:0], qi.qn)
	sc.qskel = qi.qskel
	for _, c := range qi.qn {
		switch c {
		case '?':
			qi.unread++
		case '*':
			qi.stars++
		default:
			qi.known++
		}
	}
	return qi
}

func (qi *queryInfo) wild() bool { return qi.unread+qi.stars > 0 }

// editBudget is how many edits a query with this many read characters may absorb: a short serial
// within two edits of a query matches too much to mean anything.
func editBudget(known int) int {
	switch {
	case known >= minKnownTwo:
		return 2
	case known >= minKnownFuzzy:
		return 1
	}
	return 0
}

// generate collects into sc.cands every record whose serial or other serial matches the query, one
// candidate per record with its best serial match, except those two edits away from a query
// without wildcards: those come from secondEdit, which Search runs only when they could still
// rank (see collect).
func (ix *Index) generate(qi *queryInfo, qa *queryAttrs, sc *scratch) {
	if !qi.wild() {
		if qi.known >= minKnownNoise {
			sc.subs = droppedTokens(qi, sc.subs[:0])
		}
		ix.warm(qi, sc)
		ix.exactTier(qi, sc)
		if k := editBudget(qi.known); k > 0 {
			ix.editTier(qi, sc, 1, qi.qskel, flagOneDel)
		}
		if qi.known >= minKnownFuzzy {
			// A serial recorded as read under the query's make makes a token dropped or added
			// (an import mark, a maker's prefix) an explanation nobody needs: skip that tier.
			ix.weigh(qa, sc)
			if !readExactly(sc.cands) {
				ix.noiseTier(qi, sc)
				ix.markTier(qi, sc)
			}
		}
		return
	}
	if qi.known < minKnownWild {
		return
	}
	if qi.stars == 0 && qi.unread <= maxDeletions {
		k := min(editBudget(qi.known), maxDeletions-qi.unread)
		q0 := make([]byte, 0, len(qi.qskel))
		for _, c := range qi.qskel {
			if c != '?' {
				q0 = append(q0, c)
			}
		}
		accept := uint32(flagAnyDel)
		if qi.unread+k <= 1 {
			accept = flagOneDel
		}
		ix.editTier(qi, sc, k, q0, accept)
		return
	}
	ix.walkTier(qi, sc)
}

// warm reads the first memory the exact and noise tiers of a query without wildcards will read
// (hash slots, groups, auxiliary buckets) in one pass of independent loads. Each of those tiers
// starts with a cache miss into a table of tens of megabytes; taken one after another they
// were a fifth of an exact query's time.
func (ix *Index) warm(qi *queryInfo, sc *scratch) {
	t := ix.groups.touch(qi.qskel)
	for _, sub := range sc.subs {
		var buf [maxSerialLen]byte
		t += ix.groups.touch(appendSkeleton(buf[:0], sub))
	}
	t += ix.aux.touch(auxHash(auxEmbedded, qi.qskel))
	if qi.known >= minKnownNoise {
		t += ix.aux.touch(auxHash(auxToken, qi.qskel))
	}
	sc.touch += t
}

// offer adds a serial match to the candidates, keeping the better one per record.
func (ix *Index) offer(sc *scratch, m serialMatch) {
	slot := ix.ser.rec.at(m.id).slot
	if i, ok := sc.slots.get(slot); ok {
		if better(&m, &sc.cands[i].m) {
			sc.cands[i].m = m
		}
		return
	}
	sc.slots.put(slot, int32(len(sc.cands)))
	sc.cands = append(sc.cands, candidate{slot: slot, m: m})
}

// better reports whether serial match a is stronger evidence than b, the frame's serial winning
// ties over other serials.
func better(a, b *serialMatch) bool {
	ba, bb := a.serialBits(1), b.serialBits(1)
	if ba != bb {
		return ba > bb
	}
	return a.kind < b.kind
}

// offerGroup verifies every serial of group g against the query and offers the matches that stay
// within maxEdits.
func (ix *Index) offerGroup(qi *queryInfo, sc *scratch, g uint32, maxEdits int) {
	filter := maxEdits > 0 && qi.makeTag != anyMake && ix.groups.rec.at(g).tag == anyMake
	for id := ix.groups.rec.at(g).head; id != noSerial; {
		sr := ix.ser.rec.at(id)
		cur := id
		id = sr.nextInG
		if filter && !tagMatches(uint32(sr.tag), qi.makeTag) {
			continue // a short serial many makers use: only the query's make is worth aligning
		}
		norm := ix.ser.norm(cur)
		var a alignment
		if qi.stars == 0 {
			a = alignQuick(norm, qi.qn)
		} else {
			a = align(norm, qi.qn)
		}
		if a.edits > maxEdits {
			continue
		}
		m := serialMatch{id: cur, known: qi.known, confusions: a.confusions, edits: a.edits, slips: a.slips,
			unread: qi.unread, stars: qi.stars}
		switch {
		case a.edits > 0:
			m.kind = kindFuzzy
		case qi.wild():
			m.kind = kindWildcard
		case a.confusions > 0:
			m.kind = kindConfusable
		default:
			m.kind = kindExact
		}
		if m.confusions > 0 {
			m.pair = firstConfusion(norm, qi.qn)
		}
		ix.offer(sc, m)
	}
}

// Values of scratch.groups: a group verified in full, or the skeleton distance of one checked and
// left for a wider search.
const groupOffered = -1

// acceptPlain is the accept mask of the auxiliary index, whose keys carry no flag.
const acceptPlain = flagOneDel

// exactTier offers the serials whose skeleton equals the query's, and those equal once letters
// embedded between digits are ignored on either side.
func (ix *Index) exactTier(qi *queryInfo, sc *scratch) {
	if g := ix.groups.lookup(qi.qskel); g != 0 && ix.groups.rec.at(g).live > 0 {
		sc.groups.put(g, groupOffered)
		ix.offerGroup(qi, sc, g, 0)
	}
	embeddedGroup := func(g uint32, known int) {
		for id := ix.groups.rec.at(g).head; id != noSerial; id = ix.ser.rec.at(id).nextInG {
			ix.offer(sc, serialMatch{id: id, kind: kindEmbedded, known: known})
		}
	}
	// edits is 1 when both sides had letters between digits: the letters then differ (equal ones
	// would have matched exactly), a misread rather than an inspection mark one side lacks, and
	// so a lead, not a HIT ("1-EA2210-95" is not "1-EP2210-95").
	embeddedAux := func(want []byte, edits int) {
		sc.vals = ix.aux.lookup(sc.vals[:0], auxHash(auxEmbedded, want), acceptPlain)
		for _, id := range sc.vals {
			if ix.embeddedMatch(id, want) {
				ix.offer(sc, serialMatch{id: id, kind: kindEmbedded, known: len(want), edits: edits})
			}
		}
	}
	// What is matched with letters ignored must keep enough significant characters: "2HPG12"
	// without its letters is "212", which dozens of import marks carry.
	if len(qi.qskel) >= minKnownFuzzy {
		embeddedAux(qi.qskel, 0)
	}
	if hasEmbedded(qi.qn) {
		if qs := strippedSkeleton(qi.qn); len(qs) >= minKnownFuzzy {
			if g := ix.groups.lookup(qs); g != 0 {
				embeddedGroup(g, len(qs))
			}
			embeddedAux(qs, 1)
		}
	}
}

// noiseTier offers serials that match once a prefix or suffix token is dropped from the query
// (an import mark read as part of the serial) or added to it (a maker's prefix the officer left
// out). A token is a run of letters or of digits, or a part between separators as typed.
func (ix *Index) noiseTier(qi *queryInfo, sc *scratch) {
	for _, sub := range sc.subs {
		var buf [maxSerialLen]byte
		skel := appendSkeleton(buf[:0], sub)
		if len(skel) < minKnownFuzzy {
			// What is left must have enough significant characters: "NJ0532" without "NJ" is
			// "532" to the skeleton, which dozens of import marks carry.
			continue
		}
		g := ix.groups.lookup(skel)
		if g == 0 {
			continue
		}
		for id := ix.groups.rec.at(g).head; id != noSerial; id = ix.ser.rec.at(id).nextInG {
			a := align(ix.ser.norm(id), sub)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: len(sub), noise: 1,
				confusions: a.confusions, edits: a.edits, slips: a.slips})
		}
	}
	// The record has a token the query lacks: its letter prefix was not read, or the query is one
	// whole token of it. Four read characters are enough to look: what is found is short, so it
	// needs make or calibre agreement to be a HIT (withheld) and weighs little.
	sc.vals = ix.aux.lookup(sc.vals[:0], auxHash(auxToken, qi.qskel), acceptPlain)
	for _, id := range sc.vals {
		if part, dropped := ix.tokenMatch(id, qi.qskel); part != nil {
			a := align(part, qi.qn)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: qi.known, noise: dropped,
				confusions: a.confusions, edits: a.edits, slips: a.slips})
		}
	}
	// ... or its first or last part between separators as recorded ("09046" for "011-09046").
	sc.vals = ix.aux.lookup(sc.vals[:0], auxHash(auxPart, qi.qskel), acceptPlain)
	for _, id := range sc.vals {
		if part := ix.partMatch(id, qi.qskel); part != nil {
			a := align(part, qi.qn)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: qi.known, noise: 1,
				confusions: a.confusions, edits: a.edits, slips: a.slips})
		}
	}
}

// markTier offers serials found inside the query with two to maxNoiseExtra characters glued to
// either end and no separator (one is an insertion, which the edit tier finds): a proof or import mark, or a factory code, read as part of the
// serial ("K7P" + serial, serial + "R7K"). The token tier cannot see these: a mark glued to a
// serial is not a token of its own ("K7PWA39357" is K, 7, PWA, 39357). What is left must keep
// minKnownNoise characters; each glued character costs a little (see serialBits), and such a
// match is a lead, never a HIT.
func (ix *Index) markTier(qi *queryInfo, sc *scratch) {
	qn := qi.qn
	for k := 2; k <= maxNoiseExtra && len(qn)-k >= minKnownNoise; k++ {
		for _, rest := range [2][]byte{qn[k:], qn[:len(qn)-k]} {
			if slices.ContainsFunc(sc.subs, func(s []byte) bool { return string(s) == string(rest) }) {
				continue // a token: the noise tier offered it
			}
			var buf [maxSerialLen]byte
			skel := appendSkeleton(buf[:0], rest)
			g := ix.groups.lookup(skel)
			if g == 0 || ix.groups.rec.at(g).live == 0 {
				continue
			}
			for id := ix.groups.rec.at(g).head; id != noSerial; id = ix.ser.rec.at(id).nextInG {
				norm := ix.ser.norm(id)
				a := align(norm, rest)
				m := serialMatch{id: id, kind: kindNoise, known: len(rest), glued: k,
					confusions: a.confusions, edits: a.edits, slips: a.slips}
				if a.confusions > 0 {
					m.pair = firstConfusion(norm, rest)
				}
				ix.offer(sc, m)
			}
		}
	}
}

// droppedTokens returns the query without its first token and without its last one, by letter and
// digit runs and by the separators as typed.
func droppedTokens(qi *queryInfo, subs [][]byte) [][]byte {
	addSub := func(s []byte) {
		for _, x := range subs {
			if string(x) == string(s) {
				return
			}
		}
		if len(s) > 0 && len(s) < len(qi.qn) {
			subs = append(subs, s)
		}
	}
	qn := qi.qn
	i := 1
	for i < len(qn) && isDigit(qn[i]) == isDigit(qn[0]) {
		i++
	}
	addSub(qn[i:])
	j := len(qn) - 1
	for j > 0 && isDigit(qn[j-1]) == isDigit(qn[len(qn)-1]) {
		j--
	}
	addSub(qn[:j])
	// Separators as typed: "IMP 550931" or "550931-US".
	raw := strings.TrimSpace(qi.raw)
	first, last := -1, -1
	for k := 0; k < len(raw); {
		r, w := utf8.DecodeRuneInString(raw[k:])
		if foldRune(nil, r, false) == nil {
			if first < 0 {
				first = k
			}
			last = k
		}
		k += w
	}
	if first > 0 {
		addSub(normalize(nil, raw[first:], false))
	}
	if last > 0 {
		addSub(normalize(nil, raw[:last], false))
	}
	return subs
}
