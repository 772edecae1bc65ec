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
		Candidates: len(sc.cands), SecondEdit: !sc.skipped && !qi.wild() && editBudget(qi.known) == 2}
}
