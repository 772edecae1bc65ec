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
		if old.live[g] > 0 {
			live = append(live, g)
		}
	}
	slices.SortFunc(live, func(a, b uint32) int { return bytes.Compare(old.skel(a), old.skel(b)) })

	var ng groupTable
	ng.init()
	remap := make([]uint32, old.count())
	for _, g := range live {
		remap[g], _ = ng.intern(old.skel(g))
	}
	ix.compactSerials(&ng, remap)
	ix.groups = ng

	ix.fwd.init()
	ix.rev.init()
	clear(ix.strip)
	n := uint32(ng.count())
	for g := uint32(1); g < n; g++ {
		skel := ng.skel(g)
		if len(skel) <= maxFuzzyLen {
			ix.fwd.group[ix.fwd.insert(skel)] = g
		}
		if hasEmbedded(skel) {
			k := string(appendStripEmbedded(nil, skel))
			ix.strip[k] = append(ix.strip[k], g)
		}
	}
	ix.buildReverse()
	ix.del.build(ng.count(), ng.skel, func(g uint32) bool { return len(ng.skel(g)) <= maxDeletionLen })
}

// compactSerials moves every live serial's bytes into a fresh arena and relinks the group chains
// under the new group ids.
func (ix *Index) compactSerials(ng *groupTable, remap []uint32) {
	t := &ix.ser
	arena := make([]byte, 0, len(t.arena)-garbage(t))
	for id := range t.off {
		if t.n[id] == 0 {
			continue
		}
		norm := t.arena[t.off[id] : t.off[id]+uint32(t.n[id])]
		t.off[id] = uint32(len(arena))
		arena = append(arena, norm...)
		g := remap[t.group[id]]
		t.group[id] = g
		t.nextInG[id] = ng.head[g]
		ng.head[g] = uint32(id)
		ng.live[g]++
	}
	t.arena = arena
}

// garbage estimates the dead bytes in the serial arena (never more than its length).
func garbage(t *serialTable) int {
	liveBytes := 0
	for _, n := range t.n {
		liveBytes += int(n)
	}
	return len(t.arena) - liveBytes
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
