package matcher

// GroupOf returns the Group the record with the given key was put with, and whether the index holds
// it. The node uses it to tell which shard an indexed id came from, so a change of the same id
// from another shard does not replace it.
func (ix *Index) GroupOf(key string) (uint8, bool) {
	slot, ok := ix.recs.lookup(key)
	if !ok {
		return 0, false
	}
	return ix.recs.rec.at(slot).group, true
}
