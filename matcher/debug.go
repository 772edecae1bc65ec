package matcher

import "fmt"

// DebugStats describes the index's structures and their sizes, for the evaluation suite and
// DESIGN.md.
func DebugStats(ix *Index) string {
	delRuns, delMerging := ix.del.tiers.runs()
	return fmt.Sprintf("records=%d serials=%d groups=%d serialMB=%d groupMB=%d delEntries=%d delMB=%d "+
		"delRuns=%d delMerging=%d auxEntries=%d auxMB=%d fwdEntries=%d fwdMB=%d revMB=%d",
		ix.Len(), ix.ser.liveSize, ix.groups.count()-1, ix.ser.bytes()>>20, ix.groups.bytes()>>20,
		ix.del.size(), ix.del.bytes()>>20, delRuns, delMerging, ix.aux.size(), ix.aux.bytes()>>20,
		ix.fwd.size(), ix.fwd.bytes()>>20, ix.rev.bytes()>>20)
}

// SearchStats counts the work one search did, for the evaluation suite.
type SearchStats struct {
	Probes, Matched, Checked, Verified, Candidates int
	// Passed counts deletion-index entries the first edit pass turned away by their position
	// bytes, without reading their values (see appendNearFilters); Matched counts those it took.
	Passed int
	// OtherMake counts the entries of Matched that the bucket scan turned away by the make tag
	// kept beside their key bits, without reading their values (see hashRun.lookupBatch).
	OtherMake int
	// SecondEdit reports whether records two edits away were sought (see Index.collect).
	SecondEdit bool
}

// DebugSearch runs q and reports how much work candidate generation did.
func DebugSearch(ix *Index, q Query) SearchStats {
	sc := getScratch()
	defer putScratch(sc)
	qi := newQueryInfo(q.Serial, sc)
	qa := ix.resolveQuery(&q)
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if qi.known > 0 {
		ix.collect(&qi, &qa, sc, min(limit, MaxLimit))
	}
	return SearchStats{Probes: sc.probes, Matched: sc.matched, Checked: sc.checked, Verified: sc.verified,
		Candidates: len(sc.cands), Passed: sc.ls.passed, OtherMake: sc.ls.otherMake, SecondEdit: !sc.skipped && qi.twoEdits()}
}

// DebugCandidate is one ranked candidate's evidence, for the evaluation suite's analysis of what
// separates a misread serial from a chance neighbour.
type DebugCandidate struct {
	Key                 string
	Serial              string // the matched serial's normal form
	Bits, Common        float64
	Kind                int
	Edits, Confusions   int
	Slips               int
	Known, Noise, Glued int
	MakeAgree, CalAgree bool
	ModelWhy, TypeWhy   string
	Verdict             int // 0 none, 1 REVIEW, 2 HIT
}

// DebugRank runs q as Search does and returns every candidate in the answer's order with its
// evidence, and the query's normal form.
func DebugRank(ix *Index, q Query) ([]DebugCandidate, string) {
	sc := getScratch()
	defer putScratch(sc)
	qi := newQueryInfo(q.Serial, sc)
	if qi.known == 0 {
		return nil, ""
	}
	qn := string(qi.qn)
	qa := ix.resolveQuery(&q)
	ix.collect(&qi, &qa, sc, DefaultLimit)
	if len(sc.cands) == 0 {
		return nil, qn
	}
	ix.rank(sc, MaxLimit, q.Independent)
	out := make([]DebugCandidate, 0, len(sc.order))
	for _, k := range sc.order {
		c := &sc.cands[k.i]
		out = append(out, DebugCandidate{Key: string(ix.recs.key(c.slot)), Serial: string(ix.ser.norm(c.m.id)),
			Bits: c.bits, Common: c.common, Kind: int(c.m.kind), Edits: c.m.edits, Confusions: c.m.confusions, Slips: c.m.slips,
			Known: c.m.known, Noise: c.m.noise, Glued: c.m.glued, MakeAgree: c.ev.makeAgree, CalAgree: c.ev.calibreAgree,
			ModelWhy: c.ev.modelWhy, TypeWhy: c.ev.typeWhy, Verdict: int(c.verdict)})
	}
	return out, qn
}
