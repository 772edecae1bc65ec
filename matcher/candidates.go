package matcher

import (
	"strings"
	"unicode/utf8"
)

// Bounds on candidate generation, chosen on the evaluation suite (see DESIGN.md).
const (
	minKnownFuzzy  = 4      // read characters a query needs before edits are tried at all
	minKnownTwo    = 7      // ... before two edits are tried
	minKnownWild   = 3      // ... before a pattern with '?' or '*' is searched
	minKnownNoise  = 5      // ... before prefix or suffix tokens are added or dropped
	maxNoiseExtra  = 6      // longest prefix or suffix token a record may have that the query lacks
	maxNoiseGroups = 64     // groups examined per missing-token direction
	maxWalkNodes   = 400000 // trie nodes a wildcard walk may visit
	maxWildGroups  = 20000  // groups a wildcard walk may report
)

// queryInfo is the normalised query serial and what the tiers need to know about it.
type queryInfo struct {
	raw                  string
	qn, qskel            []byte
	known, unread, stars int
}

func newQueryInfo(raw string, sc *scratch) queryInfo {
	qi := queryInfo{raw: raw}
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
	slot := ix.ser.slot[m.id]
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
	for id := ix.groups.head[g]; id != noSerial; id = ix.ser.nextInG[id] {
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
// embedded between digits are ignored on either side.
func (ix *Index) exactTier(qi *queryInfo, sc *scratch) {
	if g := ix.groups.lookup(qi.qskel); g != 0 {
		sc.groups.put(g, 0)
		ix.offerGroup(qi, sc, g, 0)
	}
	embedded := func(g uint32, known int) {
		for id := ix.groups.head[g]; id != noSerial; id = ix.ser.nextInG[id] {
			ix.offer(sc, serialMatch{id: id, kind: kindEmbedded, known: known})
		}
	}
	for _, g := range ix.strip[string(qi.qskel)] {
		embedded(g, len(qi.qskel))
	}
	if hasEmbedded(qi.qskel) {
		qs := appendStripEmbedded(nil, qi.qskel)
		if g := ix.groups.lookup(qs); g != 0 {
			embedded(g, len(qs))
		}
		for _, g := range ix.strip[string(qs)] {
			embedded(g, len(qs))
		}
	}
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
	sc.hashes = appendVariants(sc.hashes[:0], q0, k)
	for _, h := range sc.hashes {
		ix.del.lookup(h, func(g uint32) {
			if _, seen := sc.groups.get(g); seen || ix.groups.live[g] == 0 {
				return
			}
			sc.groups.put(g, 0)
			if osaWithin(ix.groups.skel(g), qi.qskel, k) <= k {
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
		if found >= maxWildGroups || ix.groups.live[g] == 0 {
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
		for id := ix.groups.head[g]; id != noSerial; id = ix.ser.nextInG[id] {
			a := align(ix.ser.norm(id), sub)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: len(sub), noise: 1,
				confusions: a.confusions, edits: a.edits})
		}
	}
	ix.missingToken(qi, sc, false)
	ix.missingToken(qi, sc, true)
}

// missingToken offers records whose skeleton is the query's plus a whole token before it (reverse)
// or after it.
func (ix *Index) missingToken(qi *queryInfo, sc *scratch, reverse bool) {
	q := qi.qskel
	t := &ix.fwd
	if reverse {
		t = &ix.rev
		q = appendReversed(make([]byte, 0, len(q)), q)
	}
	n := t.find(q)
	if n == 0 {
		return
	}
	seen := 0
	t.collect(n, func(g uint32) bool {
		seen++
		skel := ix.groups.skel(g)
		extra := len(skel) - len(qi.qskel)
		if extra > maxNoiseExtra || ix.groups.live[g] == 0 {
			return seen < maxNoiseGroups
		}
		for id := ix.groups.head[g]; id != noSerial; id = ix.ser.nextInG[id] {
			norm := ix.ser.norm(id)
			cut := len(norm) - extra // suffix token starts here
			if reverse {
				cut = len(norm) - len(qi.qskel) // prefix token ends here
			}
			if cut <= 0 || cut >= len(norm) || isDigit(norm[cut-1]) == isDigit(norm[cut]) {
				continue
			}
			part := norm[:cut]
			if reverse {
				part = norm[cut:]
			}
			a := align(part, qi.qn)
			ix.offer(sc, serialMatch{id: id, kind: kindNoise, known: qi.known, noise: 1,
				confusions: a.confusions, edits: a.edits})
		}
		return seen < maxNoiseGroups
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
