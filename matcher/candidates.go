package matcher

import (
	"strings"
	"unicode/utf8"
)

// Bounds on candidate generation, chosen on the evaluation suite (see DESIGN.md).
const (
	minKnownFuzzy = 4      // read characters a query needs before edits are tried at all
	minKnownTwo   = 5      // ... before two edits are tried
	minKnownWild  = 3      // ... before a pattern with '?' or '*' is searched
	minKnownNoise = 5      // ... before prefix or suffix tokens are added or dropped
	maxNoiseExtra = 6      // longest prefix or suffix token that may be added or dropped
	maxWalkNodes  = 400000 // trie nodes a wildcard walk may visit
	maxWildGroups = 20000  // groups a wildcard walk may report
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
// candidate per record with its best serial match.
func (ix *Index) generate(qi *queryInfo, sc *scratch) {
	if !qi.wild() {
		ix.exactTier(qi, sc)
		ix.editTier(qi, sc, editBudget(qi.known))
		if qi.known >= minKnownNoise {
			ix.noiseTier(qi, sc)
		}
		return
	}
	if qi.known < minKnownWild {
		return
	}
	if qi.stars == 0 && qi.unread <= maxDeletions {
		ix.editTier(qi, sc, min(editBudget(qi.known), maxDeletions-qi.unread))
		return
	}
	ix.walkTier(qi, sc)
}

// offer adds a serial match to the candidates, keeping the better one per record.
func (ix *Index) offer(sc *scratch, m serialMatch) {
	slot := ix.ser.rec[m.id].slot
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
	filter := maxEdits > 0 && qi.makeTag != anyMake && ix.groups.rec[g].tag == anyMake
	for id := ix.groups.rec[g].head; id != noSerial; id = ix.ser.rec[id].nextInG {
		if filter && !tagMatches(uint32(makeTag(ix.recs.rec[ix.ser.rec[id].slot].make)), qi.makeTag) {
			continue // a short serial many makers use: only the query's make is worth aligning
		}
		norm := ix.ser.norm(id)
		a := align(norm, qi.qn)
		if a.edits > maxEdits {
			continue
		}
		m := serialMatch{id: id, known: qi.known, confusions: a.confusions, edits: a.edits,
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

// exactTier offers the serials whose skeleton equals the query's, and those equal once letters
// embedded between digits are ignored on either side. It reports whether some serial's skeleton
// equals the query's.
func (ix *Index) exactTier(qi *queryInfo, sc *scratch) (found bool) {
	if g := ix.groups.lookup(qi.qskel); g != 0 && ix.groups.rec[g].live > 0 {
		sc.groups.put(g, 0)
		ix.offerGroup(qi, sc, g, 0)
		found = true
	}
	embeddedGroup := func(g uint32, known int) {
		for id := ix.groups.rec[g].head; id != noSerial; id = ix.ser.rec[id].nextInG {
			ix.offer(sc, serialMatch{id: id, kind: kindEmbedded, known: known})
		}
	}
	embeddedAux := func(want []byte) {
		ix.aux.lookup(auxHash(auxEmbedded, want), func(id, _ uint32) {
			if ix.embeddedMatch(id, want) {
				ix.offer(sc, serialMatch{id: id, kind: kindEmbedded, known: len(want)})
			}
		})
	}
	embeddedAux(qi.qskel)
	if hasEmbedded(qi.qn) {
		qs := strippedSkeleton(qi.qn)
		if g := ix.groups.lookup(qs); g != 0 {
			embeddedGroup(g, len(qs))
		}
		embeddedAux(qs)
	}
	return found
}

// editTier offers the serials within k edits of the query (beyond its '?'s) through the deletion
// index: every deletion variant of the query skeleton (with its '?'s deleted) is looked up, and
// each group found is checked with a banded alignment before its serials are verified in full.
func (ix *Index) editTier(qi *queryInfo, sc *scratch, k int) {
	if k == 0 && !qi.wild() {
		return
	}
	q0 := qi.qskel
	if qi.unread > 0 {
		q0 = make([]byte, 0, len(qi.qskel))
		for _, c := range qi.qskel {
			if c != '?' {
				q0 = append(q0, c)
			}
		}
	}
	if len(q0) > maxDeletionLen {
		return
	}
	if !sc.pt.compile(qi.qskel) {
		return
	}
	sc.hashes = appendVariants(sc.hashes[:0], q0, k)
	sc.probes += len(sc.hashes)
	for _, h := range sc.hashes {
		ix.del.lookup(h, func(g, meta uint32) {
			sc.matched++
			if !tagMatches(meta, qi.makeTag) {
				return // another make's serial: it could only rank below this make's
			}
			if _, seen := sc.groups.get(g); seen || ix.groups.rec[g].live == 0 {
				return
			}
			sc.groups.put(g, 0)
			sc.checked++
			if sc.pt.osa(ix.groups.skel(g)) <= k {
				sc.verified++
				ix.offerGroup(qi, sc, g, k)
			}
		})
	}
}

// walkTier offers the serials matching a pattern with '*' (or many '?') by walking the trie that
// reads the pattern from its longer fixed end: the forward trie for "AB12*", the reverse one for
// "*3456".
func (ix *Index) walkTier(qi *queryInfo, sc *scratch) {
	p := qi.qskel
	lead, trail := 0, 0
	for lead < len(p) && p[lead] != '*' {
		lead++
	}
	for trail < len(p) && p[len(p)-1-trail] != '*' {
		trail++
	}
	t := &ix.fwd
	if trail > lead {
		t = &ix.rev
		p = appendReversed(make([]byte, 0, len(p)), p)
	}
	found := 0
	sc.w.maxNodes = maxWalkNodes
	sc.w.walk(t, p, 0, func(g uint32, _ int) {
		if found >= maxWildGroups || ix.groups.rec[g].live == 0 {
			return
		}
		if _, seen := sc.groups.get(g); seen {
			return
		}
		sc.groups.put(g, 0)
		found++
		ix.offerGroup(qi, sc, g, 0)
	})
}

// noiseTier offers serials that match once a prefix or suffix token is dropped from the query
// (an import mark read as part of the serial) or added to it (a maker's prefix the officer left
// out). A token is a run of letters or of digits, or a part between separators as typed.
func (ix *Index) noiseTier(qi *queryInfo, sc *scratch) {
	for _, sub := range droppedTokens(qi) {
		if len(sub) < minKnownFuzzy {
			continue
		}
		g := ix.groups.lookup(appendSkeleton(nil, sub))
		if g == 0 {
			continue
		}
		for id := ix.groups.rec[g].head; id != noSerial; id = ix.ser.rec[id].nextInG {
			a := align(ix.ser.norm(id), sub)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: len(sub), noise: 1,
				confusions: a.confusions, edits: a.edits})
		}
	}
	// The record has a token the query lacks.
	ix.aux.lookup(auxHash(auxToken, qi.qskel), func(id, _ uint32) {
		if part, dropped := ix.tokenMatch(id, qi.qskel); part != nil {
			a := align(part, qi.qn)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: qi.known, noise: dropped,
				confusions: a.confusions, edits: a.edits})
		}
	})
}

// droppedTokens returns the query without its first token and without its last one, by letter and
// digit runs and by the separators as typed.
func droppedTokens(qi *queryInfo) [][]byte {
	var subs [][]byte
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
