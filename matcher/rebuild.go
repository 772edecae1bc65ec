package matcher

import (
	"bytes"
	"slices"
)

// rebuild lays every structure out afresh from the live serials: groups renumbered in skeleton
// order (so the forward trie is built in order and each subtree is contiguous), emptied groups and
// removed serials' bytes dropped, the deletion index rebuilt in its compact form. It is what
// PutMany runs after a bulk load, and what Put runs when live additions have piled up.
func (ix *Index) rebuild() {
	old := &ix.groups
	var live []uint32
	for g := uint32(1); g < uint32(old.count()); g++ {
		if old.rec[g].live > 0 {
			live = append(live, g)
		}
	}
	slices.SortFunc(live, func(a, b uint32) int { return bytes.Compare(old.skel(a), old.skel(b)) })

	var ng groupTable
	ng.init()
	ng.reserve(len(live))
	remap := make([]uint32, old.count())
	for _, g := range live {
		remap[g], _ = ng.intern(old.skel(g))
	}
	ix.compactSerials(&ng, remap)
	ix.groups = ng

	ix.fwd.init()
	ix.rev.init()
	n := uint32(ng.count())
	for g := uint32(1); g < n; g++ {
		if skel := ng.skel(g); len(skel) <= maxFuzzyLen {
			ix.fwd.group[ix.fwd.insert(skel)] = g
		}
	}
	ix.buildReverse()
	ix.del.build(ng.count(), ix.del.size()+ix.del.size()/8+1024, deletionMetaBits,
		func(g uint32, dst []uint32, meta []uint8) ([]uint32, []uint8) {
			if g == 0 {
				return dst, meta
			}
			return deletionKeys(dst, meta, ng.skel(g), ng.rec[g].tag)
		})
	t := &ix.ser
	ix.aux.build(len(t.rec), ix.aux.size()+ix.aux.size()/8+1024, 0,
		func(id uint32, dst []uint32, meta []uint8) ([]uint32, []uint8) {
			if t.rec[id].n == 0 {
				return dst, meta
			}
			return appendAuxKeys(dst, t.norm(id)), meta
		})
}

// compactSerials moves every live serial's bytes into a fresh arena and relinks the group chains
// under the new group ids.
func (ix *Index) compactSerials(ng *groupTable, remap []uint32) {
	t := &ix.ser
	liveBytes := 0
	for i := range t.rec {
		liveBytes += int(t.rec[i].n)
	}
	arena := make([]byte, 0, liveBytes)
	for id := range t.rec {
		r := &t.rec[id]
		if r.n == 0 {
			continue
		}
		norm := t.arena[r.off : r.off+uint32(r.n)]
		r.off = uint32(len(arena))
		arena = append(arena, norm...)
		g := remap[r.group]
		r.group = g
		r.nextInG = ng.rec[g].head
		ng.rec[g].head = uint32(id)
		ng.rec[g].live++
		ng.rec[g].tag = joinTag(ng.rec[g].tag, makeTag(ix.recs.rec[r.slot].make))
	}
	t.arena = arena
}

// buildReverse fills the reverse trie in the order of reversed skeletons, so its subtrees are
// contiguous too.
func (ix *Index) buildReverse() {
	ng := &ix.groups
	n := ng.count()
	rarena := make([]byte, 0, len(ng.arena))
	roff := make([]uint32, n+1)
	for g := 1; g < n; g++ {
		roff[g] = uint32(len(rarena))
		rarena = appendReversed(rarena, ng.skel(uint32(g)))
	}
	roff[n] = uint32(len(rarena))
	rs := func(g uint32) []byte { return rarena[roff[g]:roff[g+1]] }
	order := make([]uint32, 0, n)
	for g := uint32(1); g < uint32(n); g++ {
		if len(rs(g)) <= maxFuzzyLen {
			order = append(order, g)
		}
	}
	slices.SortFunc(order, func(a, b uint32) int { return bytes.Compare(rs(a), rs(b)) })
	for _, g := range order {
		ix.rev.group[ix.rev.insert(rs(g))] = g
	}
}
