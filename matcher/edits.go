package matcher

// editTier offers the serials within k edits of the query (beyond its '?'s) through the deletion
// index: every variant of q0 (the query skeleton without its '?'s) deleting up to k characters is
// looked up, accepting entries whose flag accept takes, and each group found is checked with the
// bit-parallel distance before its serials are verified in full. Groups found but farther than
// k are remembered with their distance, for secondEdit.
//
// The first pass of a query without wildcards (k 1, q0 the query's skeleton) also filters by the
// entries' position bytes (appendNearFilters): an entry whose deleted position and character show
// its group two edits away is passed over without reading its value or its group, which is most
// of what a serial of a dense factory run finds (Colt's FA runs: 85 groups read, 18 within one
// edit). secondEdit, when it runs, takes them up.
func (ix *Index) editTier(qi *queryInfo, sc *scratch, k int, q0 []byte, accept uint32) {
	if len(q0) > maxDeletionLen || !sc.pt.compile(qi.qskel) {
		return
	}
	sc.hashes, _ = appendVariants(sc.hashes[:0], q0, k, true)
	var filters []posFilter
	if k == 1 && !qi.wild() && !ix.noPosFilter {
		sc.filters = appendNearFilters(sc.filters[:0], q0)
		filters = sc.filters
	}
	ix.probe(qi, sc, sc.hashes, accept, filters, k)
}

// secondEdit widens the edit tier of a query without wildcards from one edit to two: the
// one-deletion variants now take the index's two-deletion entries (and the one-deletion entries
// the first pass passed over by position), the two-deletion variants take everything, and groups
// the first pass found two edits away are verified.
func (ix *Index) secondEdit(qi *queryInfo, sc *scratch) {
	if len(qi.qskel) > maxDeletionLen || !sc.pt.compile(qi.qskel) {
		return
	}
	var level2 int
	sc.hashes, level2 = appendVariants(sc.hashes[:0], qi.qskel, 2, true)
	sc.vals = sc.groups.keysWith(sc.vals[:0], 2)
	for _, g := range sc.vals {
		sc.groups.put(g, groupOffered)
		sc.verified++
		ix.offerGroup(qi, sc, g, 2)
	}
	accept := uint32(flagTwoDel)
	if sc.ls.passed > 0 {
		accept = flagAnyDel // groups seen already are skipped; those passed over are checked now
	}
	ix.probe(qi, sc, sc.hashes[:level2], accept, nil, 2)
	if qi.known >= minKnownTwo { // a shorter query drops at most one character (twoEdits)
		ix.probe(qi, sc, sc.hashes[level2:], flagAnyDel, nil, 2)
	}
}

// probe looks up deletion-index keys (filtered by position bytes when filters is not nil, see
// hashRun.lookupBatch) and verifies the groups they lead to within k edits. Like
// the lookups, the group checks go in passes: the groups found are touched once in a tight loop
// (their records are scattered over tens of megabytes, and independent loads overlap their
// misses) before the distance computations read them from cache.
func (ix *Index) probe(qi *queryInfo, sc *scratch, keys []uint32, accept uint32, filters []posFilter, k int) {
	sc.probes += len(keys)
	tag := qi.makeTag
	if ix.noTagFilter {
		tag = anyMake
	}
	other := sc.ls.otherMake
	sc.vals = ix.del.lookupBatch(sc.vals[:0], keys, accept, filters, tag, &sc.ls)
	sc.matched += len(sc.vals) + sc.ls.otherMake - other
	found := sc.found[:0]
	for _, v := range sc.vals {
		if !tagMatches(v>>tagBits, qi.makeTag) {
			continue // another make's, which the run's tag bits could not tell: it could only rank below
		}
		g := v & maxIndexedGroup
		if !sc.groups.add(g, groupOffered) {
			continue // seen already
		}
		found = append(found, g)
	}
	sc.found = found
	touch := uint8(0)
	for _, g := range found {
		touch += ix.groups.rec.at(g).n
	}
	sc.touch += int(touch)
	near := found[:0]
	for _, g := range found {
		if ix.groups.rec.at(g).live == 0 {
			continue
		}
		sc.checked++
		d := sc.pt.osa(ix.groups.skel(g))
		if d > k {
			sc.groups.put(g, int32(min(d, 100)))
			continue
		}
		near = append(near, g)
	}
	sc.touch += ix.touchSerials(near)
	for _, g := range near {
		sc.verified++
		ix.offerGroup(qi, sc, g, k)
	}
}

// touchSerials reads the first serial of every group, and its normal form, in a loop of
// independent loads, so that verifying the groups next finds them in cache.
func (ix *Index) touchSerials(groups []uint32) int {
	t := uint32(0)
	for _, g := range groups {
		if id := ix.groups.rec.at(g).head; id != noSerial {
			t += ix.ser.rec.at(id).addr
		}
	}
	b := byte(0)
	for _, g := range groups {
		if id := ix.groups.rec.at(g).head; id != noSerial {
			r := ix.ser.rec.at(id)
			b += ix.ser.arena.get(r.addr, int(r.n))[0]
		}
	}
	return int(t) + int(b)
}
