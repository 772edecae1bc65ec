package matcher

// multimap maps 32-bit key hashes to small integer values (group or serial ids), many values per
// key, each entry with a few bits of metadata. The bulk part is a bucketed array: a directory over
// the top hash bits and one uint32 per entry holding a few more hash bits (to skip most false
// matches), the metadata and the value: four bytes per entry, no pointers, so the garbage
// collector never scans it. Entries added after the bulk build go to a small map; the owner
// rebuilds when that map grows (see Index.Put). Removed values are not taken out: lookups return
// a superset that the caller verifies.
type multimap struct {
	dirBits  uint
	metaBits uint
	valBits  uint
	dir      []uint32 // bucket b holds ent[dir[b]:dir[b+1]]
	ent      []uint32 // check | meta | value
	extra    map[uint32][]uint64
	extraN   int
}

// keysFunc appends the key hashes of value v, and one metadata byte per key.
type keysFunc func(v uint32, dst []uint32, meta []uint8) ([]uint32, []uint8)

// build replaces the contents with the keys of every value in 0..count-1. sizeHint is the expected
// number of entries, to allocate once.
func (m *multimap) build(count, sizeHint int, metaBits uint, keys keysFunc) {
	m.valBits = max(bitsFor(uint32(count)), 16)
	m.metaBits = metaBits
	m.extra, m.extraN = nil, 0
	// First pass: every key, value after value, to size the buckets.
	hashes := make([]uint32, 0, sizeHint)
	var meta []uint8
	if metaBits > 0 {
		meta = make([]uint8, 0, sizeHint)
	}
	per := make([]uint16, count)
	for v := uint32(0); v < uint32(count); v++ {
		n := len(hashes)
		hashes, meta = keys(v, hashes, meta)
		per[v] = uint16(len(hashes) - n)
	}
	// About eight entries per bucket keeps a probe within one or two cache lines.
	m.dirBits = min(max(bitsFor(uint32(len(hashes)/8)), 8), 28)
	nb := 1 << m.dirBits
	m.dir = make([]uint32, nb+1)
	for _, h := range hashes {
		m.dir[(h>>(32-m.dirBits))+1]++
	}
	for b := 1; b <= nb; b++ {
		m.dir[b] += m.dir[b-1]
	}
	m.ent = make([]uint32, len(hashes))
	fill := make([]uint32, nb)
	copy(fill, m.dir[:nb])
	i := 0
	for v := uint32(0); v < uint32(count); v++ {
		for range per[v] {
			h := hashes[i]
			var mt uint32
			if metaBits > 0 {
				mt = uint32(meta[i])
			}
			i++
			b := h >> (32 - m.dirBits)
			m.ent[fill[b]] = m.check(h)<<(m.metaBits+m.valBits) | mt<<m.valBits | v
			fill[b]++
		}
	}
}

// check returns the hash bits stored in an entry: those just below the directory bits, as many
// as the metadata and the value leave room for (fewer only add false candidates).
func (m *multimap) check(h uint32) uint32 {
	cb := 32 - int(m.metaBits+m.valBits)
	if cb <= 0 {
		return 0
	}
	return (h << m.dirBits) >> (32 - cb)
}

// add enters keys (with their metadata, which may be nil) for value v after the bulk build.
func (m *multimap) add(v uint32, keys []uint32, meta []uint8) {
	if len(keys) == 0 {
		return
	}
	if m.extra == nil {
		m.extra = make(map[uint32][]uint64)
	}
	for i, h := range keys {
		var mt uint64
		if meta != nil {
			mt = uint64(meta[i])
		}
		m.extra[h] = append(m.extra[h], mt<<32|uint64(v))
		m.extraN++
	}
}

// lookup calls f with every value that has a key hashing to h, and that key's metadata (and,
// rarely, values that only share hash bits; the caller verifies).
func (m *multimap) lookup(h uint32, f func(v, meta uint32)) {
	if m.dir != nil {
		b := h >> (32 - m.dirBits)
		c := m.check(h)
		shift := m.metaBits + m.valBits
		vmask := uint32(1)<<m.valBits - 1
		mmask := uint32(1)<<m.metaBits - 1
		for _, e := range m.ent[m.dir[b]:m.dir[b+1]] {
			if shift >= 32 || e>>shift == c {
				f(e&vmask, (e>>m.valBits)&mmask)
			}
		}
	}
	for _, x := range m.extra[h] {
		f(uint32(x), uint32(x>>32))
	}
}

// orMeta sets bits in the metadata of value v's entries under key h, so that a group's make tag
// can grow when a serial of another make joins it.
func (m *multimap) orMeta(h, v uint32, bits uint8) {
	if m.dir != nil && v < 1<<m.valBits {
		b := h >> (32 - m.dirBits)
		vmask := uint32(1)<<m.valBits - 1
		for i := m.dir[b]; i < m.dir[b+1]; i++ {
			if m.ent[i]&vmask == v {
				m.ent[i] |= uint32(bits) << m.valBits
			}
		}
	}
	for i, x := range m.extra[h] {
		if uint32(x) == v {
			m.extra[h][i] |= uint64(bits) << 32
		}
	}
}

// size returns the number of entries, bulk and extra.
func (m *multimap) size() int { return len(m.ent) + m.extraN }

// bytes returns the memory the multimap holds (the extra map's share estimated).
func (m *multimap) bytes() int {
	return 4*(cap(m.dir)+cap(m.ent)) + 48*len(m.extra) + 8*m.extraN
}

// bitsFor returns the number of bits needed to hold n.
func bitsFor(n uint32) uint {
	b := uint(0)
	for n > 0 {
		b++
		n >>= 1
	}
	return b
}
