package matcher

// Compaction is the fuzzy indexes merged into one run each, built by PrepareCompaction while
// searches go on and put in place by InstallCompaction.
//
// Writes keep the index's runs merging a bounded amount per call, so an index that took a large
// import through Put holds a dozen runs and merges half done until later writes finish them; a
// search looks at every run, and pays about twice what it pays on one run (and the heap holds the
// merges' inputs beside their outputs). A compaction gets there at once without holding searches
// up: runs never change once built, so merging them needs only to read them.
//
// The node uses it from its index worker, the only goroutine that writes the index:
//
//	if ix.NeedsCompaction() {
//		mu.RLock()
//		c := ix.PrepareCompaction() // about 0.5 s at 1.4M records; searches go on
//		mu.RUnlock()
//		mu.Lock()
//		ix.InstallCompaction(c) // microseconds
//		mu.Unlock()
//	}
//
// Writes may happen between the two calls (another writer, or the worker itself if it prepares
// on another goroutine): install keeps every run written since, abandons merges that involved the
// runs it replaces, and where a merge completed since prepare, keeps that merge's run too (its
// entries are then held twice until the next compaction, which searches tolerate).
type Compaction struct {
	del, aux compacted[hashRun]
	fwd, rev compacted[skelRun]
}

// NeedsCompaction reports whether the index's runs are fragmented enough for a compaction to be
// worth its cost: the runs other than the largest hold more than a quarter of its entries, or
// there are more than eight. An index built by PutMany and Compact does not need one until its
// live writes have grown it by about a quarter.
func (ix *Index) NeedsCompaction() bool { return ix.del.fragmented() }

// PrepareCompaction merges each fuzzy index's runs into one. It only reads the index, so it may
// run while searches do (under the read lock), but not while a write does. It takes about as
// long as Compact (a pass over the index) and allocates the merged runs beside the old ones
// until InstallCompaction replaces them.
func (ix *Index) PrepareCompaction() *Compaction {
	return &Compaction{del: ix.del.prepareCompaction(), aux: ix.aux.prepareCompaction(),
		fwd: ix.fwd.prepareCompaction(), rev: ix.rev.prepareCompaction()}
}

// InstallCompaction puts a prepared compaction in place; it must not run concurrently with any
// other call (the write lock). It costs microseconds, and is correct whatever was written since
// PrepareCompaction (see Compaction). A Compaction is installed once.
func (ix *Index) InstallCompaction(c *Compaction) {
	if c == nil {
		return
	}
	ix.del.installCompaction(c.del)
	ix.aux.installCompaction(c.aux)
	ix.fwd.installCompaction(c.fwd)
	ix.rev.installCompaction(c.rev)
	*c = Compaction{}
}
