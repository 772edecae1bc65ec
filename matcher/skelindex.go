package matcher

import "slices"

// skelIndex lists every group in the order of its skeleton (or of its reversed skeleton), for
// patterns with '*': the groups whose skeleton starts with a pattern's fixed end are a range of
// it. A skeleton is packed into a sortable uint64, five bits a character for the first twelve
// (the skeleton alphabet has 27 characters: digits and the letters no digit is mistaken for), so
// a range is two binary searches and a comparison costs one instruction. Longer skeletons share
// the key of their first twelve characters; the caller checks every group in a range anyway.
//
// It is log-structured like hashIndex: a small sorted buffer takes additions (an insertion into
// at most skelBufferEntries entries), full buffers become runs, and tiers merges the runs a
// bounded amount per write. Groups are never removed (an emptied group is skipped by searches).
type skelIndex struct {
	bufKeys   []uint64
	bufGroups []uint32
	tiers     tiers[skelRun]
	owed      int // entries added since the last settle
}

const (
	skelBufferEntries = 1 << 10
	skelChunk         = 1 << 14 // entries in one chunk of a run, and one step of a merge
	packedChars       = 12
)

// skelCode maps a skeleton character to its 5-bit code, in byte order; 0 for characters a
// skeleton cannot hold.
var skelCode = func() (t [256]uint8) {
	code := uint8(1)
	for c := 0; c < 256; c++ {
		isDig := c >= '0' && c <= '9'
		isLetter := c >= 'A' && c <= 'Z' && skeletonOf[c] == byte(c)
		if isDig || isLetter {
			t[c] = code
			code++
		}
	}
	return t
}()

// packSkel returns the sort key of s (its first packedChars characters) and whether every one of
// those characters is a skeleton character.
func packSkel(s []byte) (uint64, bool) {
	var k uint64
	for i := 0; i < packedChars && i < len(s); i++ {
		c := skelCode[s[i]]
		if c == 0 {
			return 0, false
		}
		k |= uint64(c) << (59 - 5*i)
	}
	return k, true
}

// skelChars maps a 5-bit code back to its character.
var skelChars = func() (t [32]byte) {
	for c := 0; c < 256; c++ {
		if code := skelCode[c]; code != 0 {
			t[code] = byte(c)
		}
	}
	return t
}()

// unpackSkel appends the characters a key holds (all of a skeleton of at most packedChars, the
// first packedChars of a longer one) and reports whether the key may stand for a longer one.
func unpackSkel(dst []byte, k uint64) (out []byte, truncated bool) {
	for i := range packedChars {
		c := (k >> (59 - 5*i)) & 31
		if c == 0 {
			return dst, false
		}
		dst = append(dst, skelChars[c])
	}
	return dst, true
}

// prefixRange returns the keys of every skeleton that starts with p: [lo, hi).
func prefixRange(p []byte) (lo, hi uint64, ok bool) {
	lo, ok = packSkel(p)
	if !ok {
		return 0, 0, false
	}
	n := min(len(p), packedChars)
	if n == 0 {
		return 0, ^uint64(0), true
	}
	return lo, lo + 1<<(64-5*n), true
}

func (x *skelIndex) init() {
	x.bufKeys, x.bufGroups = nil, nil
	x.tiers = tiers[skelRun]{base: skelBufferEntries,
		size:  func(r *skelRun) int { return r.n },
		merge: newSkelMerge}
}

// add enters group g with skeleton s.
func (x *skelIndex) add(s []byte, g uint32) {
	k, ok := packSkel(s)
	if !ok {
		return
	}
	i, _ := slices.BinarySearch(x.bufKeys, k)
	x.bufKeys = slices.Insert(x.bufKeys, i, k)
	x.bufGroups = slices.Insert(x.bufGroups, i, g)
	x.owed++
	if len(x.bufKeys) >= skelBufferEntries {
		x.freeze()
	}
}

// freeze turns the buffer into a run.
func (x *skelIndex) freeze() {
	if len(x.bufKeys) == 0 {
		return
	}
	r := &skelRun{n: len(x.bufKeys)}
	r.appendChunk(slices.Clone(x.bufKeys), slices.Clone(x.bufGroups))
	x.bufKeys, x.bufGroups = x.bufKeys[:0], x.bufGroups[:0]
	x.tiers.add(r)
}

// addBulk enters many groups at once as one run: keys and groups are sorted together here.
func (x *skelIndex) addBulk(keys []uint64, groups []uint32) {
	if len(keys) == 0 {
		return
	}
	ents := make([]skelEnt, len(keys))
	for i := range keys {
		ents[i] = skelEnt{keys[i], groups[i]}
	}
	slices.SortFunc(ents, func(a, b skelEnt) int {
		switch {
		case a.k < b.k:
			return -1
		case a.k > b.k:
			return 1
		}
		return int(a.g) - int(b.g)
	})
	r := &skelRun{n: len(ents)}
	for i := 0; i < len(ents); i += skelChunk {
		part := ents[i:min(i+skelChunk, len(ents))]
		ks, gs := make([]uint64, len(part)), make([]uint32, len(part))
		for j, e := range part {
			ks[j], gs[j] = e.k, e.g
		}
		r.appendChunk(ks, gs)
	}
	x.tiers.add(r)
	x.owed += len(keys)
}

type skelEnt struct {
	k uint64
	g uint32
}

// settle advances the merges in progress by what was added since the last settle.
func (x *skelIndex) settle() {
	if x.owed > 0 {
		x.tiers.work(x.owed)
		x.owed = 0
	}
}

// scan calls f with every key in [lo, hi) and its group, run by run, until f returns false.
func (x *skelIndex) scan(lo, hi uint64, f func(g uint32, key uint64) bool) {
	i, _ := slices.BinarySearch(x.bufKeys, lo)
	for ; i < len(x.bufKeys) && x.bufKeys[i] < hi; i++ {
		if !f(x.bufGroups[i], x.bufKeys[i]) {
			return
		}
	}
	for _, lv := range x.tiers.levels {
		for _, r := range lv {
			if !r.scan(lo, hi, f) {
				return
			}
		}
	}
}

// compact merges every run (and the buffer) into one.
func (x *skelIndex) compact() {
	x.freeze()
	x.tiers.finish()
}

// prepareCompaction merges every run into one without writing to x (see Index.PrepareCompaction).
func (x *skelIndex) prepareCompaction() compacted[skelRun] {
	return x.tiers.prepare(newSkelMerge)
}

// installCompaction puts a prepared compaction in place (see tiers.install).
func (x *skelIndex) installCompaction(c compacted[skelRun]) { x.tiers.install(c, nil) }

// size returns the number of entries.
func (x *skelIndex) size() int {
	n := len(x.bufKeys)
	x.tiers.each(func(r *skelRun) { n += r.n })
	return n
}

// bytes returns the memory the index holds.
func (x *skelIndex) bytes() int {
	b := 12 * cap(x.bufKeys)
	x.tiers.each(func(r *skelRun) { b += 12*r.n + 8*len(r.first) })
	return b
}

// skelRun is an immutable sorted run in chunks of at most skelChunk entries, so that a merge can
// build it a chunk at a time; first holds each chunk's first key.
type skelRun struct {
	n      int
	keys   [][]uint64
	groups [][]uint32
	first  []uint64
}

func (r *skelRun) appendChunk(keys []uint64, groups []uint32) {
	r.keys = append(r.keys, keys)
	r.groups = append(r.groups, groups)
	r.first = append(r.first, keys[0])
}

// scan is skelIndex.scan for one run; it reports false when f stopped it.
func (r *skelRun) scan(lo, hi uint64, f func(g uint32, key uint64) bool) bool {
	// The last chunk whose first key is below lo may still hold keys >= lo.
	c, _ := slices.BinarySearch(r.first, lo)
	if c > 0 {
		c--
	}
	for ; c < len(r.keys); c++ {
		ks := r.keys[c]
		i, _ := slices.BinarySearch(ks, lo)
		for ; i < len(ks); i++ {
			if ks[i] >= hi {
				return true
			}
			if !f(r.groups[c][i], ks[i]) {
				return false
			}
		}
	}
	return true
}

// skelMerge merges runs a chunk at a time.
type skelMerge struct {
	in  []*skelRun
	pos [][2]int // per input: chunk and index of its next entry
	out *skelRun
}

func newSkelMerge(in []*skelRun) merger[skelRun] {
	m := &skelMerge{in: in, pos: make([][2]int, len(in)), out: &skelRun{}}
	for _, r := range in {
		m.out.n += r.n
	}
	return m
}

func (m *skelMerge) step(budget int) (moved int, done bool) {
	for moved < budget {
		ks := make([]uint64, 0, skelChunk)
		gs := make([]uint32, 0, skelChunk)
		for len(ks) < skelChunk {
			best := -1
			var bk uint64
			for i, r := range m.in {
				if c := m.pos[i][0]; c < len(r.keys) {
					if k := r.keys[c][m.pos[i][1]]; best < 0 || k < bk {
						best, bk = i, k
					}
				}
			}
			if best < 0 {
				break
			}
			r, p := m.in[best], &m.pos[best]
			ks, gs = append(ks, bk), append(gs, r.groups[p[0]][p[1]])
			if p[1]++; p[1] == len(r.keys[p[0]]) {
				p[0], p[1] = p[0]+1, 0
			}
		}
		if len(ks) == 0 {
			return moved, true
		}
		m.out.appendChunk(ks, gs)
		moved += len(ks)
	}
	for i, r := range m.in {
		if m.pos[i][0] < len(r.keys) {
			return moved, false
		}
	}
	return moved, true
}

func (m *skelMerge) result() *skelRun { return m.out }
