package matcher

import "sync"

// scratch is the per-search working memory, pooled so a search allocates little more than its
// results. Nothing in it outlives a Search call.
type scratch struct {
	cands   []candidate
	slots   u32map // record slot -> index in cands
	groups  u32map // groups already verified in this search
	pt      pattern
	hashes  []uint32
	filters []posFilter // position filters of the first edit pass (appendNearFilters)
	vals    []uint32    // values of one index lookup
	found   []uint32    // groups one probe found
	subs    [][]byte    // the query without a prefix or suffix token (noise tier)
	ls      lookupScratch
	touch   int // sums what prefetching loops read, so the compiler keeps the loads
	qskel   []byte
	buf     []byte
	order   []rankKey // rank sorts these small keys rather than the candidates themselves
	// probes, checked and verified count deletion-index probes, groups checked with the banded
	// alignment and groups verified in full, for DebugSearch.
	probes, matched, checked, verified int
	skipped                            bool // the second edit was not needed
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch {
	sc := scratchPool.Get().(*scratch)
	sc.cands = sc.cands[:0]
	sc.probes, sc.matched, sc.checked, sc.verified, sc.skipped = 0, 0, 0, 0, false
	sc.ls.passed, sc.ls.otherMake = 0, 0
	sc.subs = sc.subs[:0]
	sc.slots.reset()
	sc.groups.reset()
	return sc
}

func putScratch(sc *scratch) {
	if cap(sc.cands) > 1<<16 {
		sc.cands = nil // one huge answer must not pin its memory in the pool
	}
	scratchPool.Put(sc)
}

// u32map is a small open-addressing map from uint32 to int32 that clears in time proportional to
// what was put in it, so reusing it per search costs nothing for a large index.
type u32map struct {
	keys []uint32 // key+1; 0 is empty
	vals []int32
	used []uint32 // occupied positions, to clear
}

func (m *u32map) reset() {
	for _, i := range m.used {
		m.keys[i] = 0
	}
	m.used = m.used[:0]
}

// get returns the value of k.
func (m *u32map) get(k uint32) (int32, bool) {
	if len(m.keys) == 0 {
		return 0, false
	}
	mask := uint32(len(m.keys) - 1)
	for i := hash32(k) & mask; ; i = (i + 1) & mask {
		switch m.keys[i] {
		case 0:
			return 0, false
		case k + 1:
			return m.vals[i], true
		}
	}
}

// keysWith appends to dst every key whose value is v.
func (m *u32map) keysWith(dst []uint32, v int32) []uint32 {
	for _, i := range m.used {
		if m.vals[i] == v {
			dst = append(dst, m.keys[i]-1)
		}
	}
	return dst
}

// put sets k to v.
func (m *u32map) put(k uint32, v int32) {
	i, _ := m.slot(k)
	m.vals[i] = v
}

// add sets k to v if k is absent, and reports whether it was: one probe where get and put would
// take two.
func (m *u32map) add(k uint32, v int32) bool {
	i, added := m.slot(k)
	if added {
		m.vals[i] = v
	}
	return added
}

// slot returns k's position, entering k there if it is absent (and reporting that it was).
func (m *u32map) slot(k uint32) (uint32, bool) {
	if 2*(len(m.used)+1) > len(m.keys) {
		m.grow()
	}
	mask := uint32(len(m.keys) - 1)
	i := hash32(k) & mask
	for m.keys[i] != 0 && m.keys[i] != k+1 {
		i = (i + 1) & mask
	}
	if m.keys[i] != 0 {
		return i, false
	}
	m.used = append(m.used, i)
	m.keys[i] = k + 1
	return i, true
}

func (m *u32map) grow() {
	oldK, oldV, oldU := m.keys, m.vals, m.used
	n := max(64, 2*len(oldK))
	m.keys, m.vals, m.used = make([]uint32, n), make([]int32, n), make([]uint32, 0, n/2)
	for _, i := range oldU {
		m.put(oldK[i]-1, oldV[i])
	}
}

// hash32 mixes a small integer key so sequential ids spread over the table.
func hash32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}
