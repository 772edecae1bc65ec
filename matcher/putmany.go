package matcher

// PutMany adds or replaces every entry, as Put would one by one. A large batch enters the fuzzy
// indexes as sorted runs, a chunk at a time, instead of entry by entry; and a batch at least as
// large as what the index held before is followed by Compact (which then costs no more than the
// batch): this is how a restarted node loads its records. The work of a call is proportional to
// its batch.
func (ix *Index) PutMany(es []Entry) {
	if len(es) < 256 {
		for i := range es {
			ix.Put(es[i])
		}
		return
	}
	before := ix.Len()
	ix.bulk = true
	for i := range es {
		ix.put(&es[i])
		if ix.pendingN >= bulkChunk {
			ix.flush()
			ix.settle()
		}
	}
	ix.flush()
	ix.settle()
	ix.bulk = false
	if len(es) >= before {
		ix.Compact()
	}
}

// bulkChunk is how many deletion-index entries PutMany collects before it sorts them into a run:
// 32 MB of entries, a fraction of what a full index holds.
const bulkChunk = 1 << 22

// flush enters the pending groups and auxiliary entries in the fuzzy indexes as sorted runs.
func (ix *Index) flush() {
	var ents []uint64
	var pos []uint8
	if ix.pendingN > 0 {
		ents, pos = make([]uint64, 0, ix.pendingN), make([]uint8, 0, ix.pendingN)
	}
	var fk, rk []uint64
	var fg, rg []uint32
	for _, p := range ix.pending {
		g, tag, first := uint32(p>>8), uint8(p&63), p&128 != 0
		skel := ix.groups.skel(g)
		ents, pos = appendDeletionEntries(ents, pos, skel, g, tag)
		if first {
			if k, ok := packSkel(skel); ok {
				fk, fg = append(fk, k), append(fg, g)
			}
			var rb [maxSerialLen]byte
			if k, ok := packSkel(appendReversed(rb[:0], skel)); ok {
				rk, rg = append(rk, k), append(rg, g)
			}
		}
	}
	ix.del.addEntries(ents, pos)
	ix.aux.addEntries(ix.pendingAux, nil)
	ix.fwd.addBulk(fk, fg)
	ix.rev.addBulk(rk, rg)
	ix.pending, ix.pendingN, ix.pendingAux = ix.pending[:0], 0, nil
}

// Compact merges every fuzzy index into a single run, finishing the merges in progress. It costs
// a pass over the whole index (about a second at 1.4M records), so it is for an index no search
// waits on: the node calls it once it has loaded its records at start, before it serves
// searches. It is never needed for correctness; it makes searches of an index built by many
// writes as fast as those of one built at once.
func (ix *Index) Compact() {
	ix.del.compact()
	ix.aux.compact()
	ix.fwd.compact()
	ix.rev.compact()
}
