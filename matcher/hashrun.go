package matcher

// hashRun is an immutable run of (key, value) entries sorted by key, the unit the fuzzy hash
// indexes (hashIndex) are built from and merged in. Keys are 32-bit hashes. The top sBits of a
// key pick a segment, the next dBits a bucket within it (a directory of offsets), and the
// remaining bits (at most 16) are stored beside the value: six bytes an entry, no pointers, and a
// lookup reads one directory entry and one short bucket. The full key can be rebuilt from the
// position, which is what lets two runs be merged without the skeletons they came from.
//
// Segments bound the work of one merge step: a merge builds its output one segment at a time
// (see hashMerge), and a segment holds about maxSegEntries entries.
type hashRun struct {
	n            int
	sBits, dBits uint // segment and bucket bits; sBits+dBits >= 16
	segs         []hashSeg
}

type hashSeg struct {
	dir []uint32 // bucket b holds entries dir[b]:dir[b+1]
	lo  []uint16 // key bits below sBits+dBits
	val []uint32
}

const (
	maxSegEntries = 1 << 15 // entries a segment holds, about
	bucketEntries = 16      // entries a bucket holds, about: a bucket's lo is one cache line
)

// runShape returns the segment and bucket bits of a run of n entries.
func runShape(n int) (sBits, dBits uint) {
	t := max(16, bitsFor(uint32(n/bucketEntries)))
	sBits = min(bitsFor(uint32(n/maxSegEntries)), 16, t-8)
	return sBits, t - sBits
}

func (r *hashRun) loBits() uint { return 32 - r.sBits - r.dBits }

// newHashRun builds a run from entries key<<32|value in any order; it reorders ents. The entries
// are first partitioned by segment (a scatter into few streams, which caches absorb), then each
// segment is laid out by a counting sort on its bucket bits.
func newHashRun(ents []uint64, pool *segPool) *hashRun {
	r := &hashRun{n: len(ents)}
	r.sBits, r.dBits = runShape(len(ents))
	r.segs = make([]hashSeg, 1<<r.sBits)
	sc := segScratch{pool: pool}
	if r.sBits == 0 {
		r.buildSeg(0, ents, &sc)
		return r
	}
	start := make([]int, len(r.segs)+1)
	for _, e := range ents {
		start[segOf(e, r.sBits)+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	tmp := make([]uint64, len(ents))
	fill := make([]int, len(r.segs))
	copy(fill, start)
	for _, e := range ents {
		s := segOf(e, r.sBits)
		tmp[fill[s]] = e
		fill[s]++
	}
	for s := range r.segs {
		r.buildSeg(s, tmp[start[s]:start[s+1]], &sc)
	}
	return r
}

// segOf returns the segment of entry e in a run with sBits segment bits.
func segOf(e uint64, sBits uint) uint32 {
	if sBits == 0 {
		return 0
	}
	return uint32(e>>32) >> (32 - sBits)
}

// segScratch is reused by the builds of a run's segments; pool supplies their arrays.
type segScratch struct {
	fill []uint32
	pool *segPool
}

// buildSeg fills segment s from its entries, in any order, by a counting sort on the bucket bits.
// Entries within a bucket stay in the order given: lookups scan a whole bucket.
func (r *hashRun) buildSeg(s int, ents []uint64, sc *segScratch) {
	seg := &r.segs[s]
	nb := 1 << r.dBits
	seg.dir = sc.pool.dirOf(nb + 1)
	seg.lo, seg.val = sc.pool.loVal(len(ents))
	lb := r.loBits()
	bmask := uint64(nb - 1)
	lomask := uint16(1<<lb - 1)
	for _, e := range ents {
		seg.dir[((e>>32)>>lb)&bmask+1]++
	}
	for b := 1; b <= nb; b++ {
		seg.dir[b] += seg.dir[b-1]
	}
	if cap(sc.fill) < nb {
		sc.fill = make([]uint32, nb)
	}
	fill := sc.fill[:nb]
	copy(fill, seg.dir[:nb])
	for _, e := range ents {
		b := ((e >> 32) >> lb) & bmask
		i := fill[b]
		fill[b]++
		seg.lo[i] = uint16(e>>32) & lomask
		seg.val[i] = uint32(e)
	}
}

// lookup appends the values under hash h (its low bit clear) whose key's low bit is accepted:
// accept bit 0 takes keys h, bit 1 takes keys h|1. The low key bit is a flag the owner chooses
// (the deletion index marks two-deletion variants with it).
func (r *hashRun) lookup(dst []uint32, h uint32, accept uint32) []uint32 {
	seg := &r.segs[segOf(uint64(h)<<32, r.sBits)]
	lb := r.loBits()
	b := (h >> lb) & (1<<r.dBits - 1)
	want := uint16(h) | 1
	if lb < 16 {
		want &= 1<<lb - 1
	}
	lo, val := seg.lo[seg.dir[b]:seg.dir[b+1]], seg.val[seg.dir[b]:seg.dir[b+1]]
	for i, l := range lo {
		if l|1 == want && accept&(1<<(l&1)) != 0 {
			dst = append(dst, val[i])
		}
	}
	return dst
}

// lookupScratch is the working memory of lookupBatch, kept in a search's scratch.
type lookupScratch struct {
	seg      []*hashSeg
	from, to []uint32
	hitSeg   []*hashSeg
	hitPos   []uint32
	touch    int // sums what touching loops read, so the compiler keeps the loads
}

// lookupBatch is lookup for many hashes at once (their low bits are ignored). It works in passes
// (every bucket's bounds, then every bucket's keys, then the values found) so that the memory
// accesses of different hashes are independent and the processor overlaps their cache and TLB
// misses: a search probes dozens of keys in a run of hundreds of megabytes, and one miss after
// another would cost most of its time.
func (r *hashRun) lookupBatch(dst []uint32, hs []uint32, accept uint32, ls *lookupScratch) []uint32 {
	n := len(hs)
	if cap(ls.seg) < n {
		ls.seg, ls.from, ls.to = make([]*hashSeg, n), make([]uint32, n), make([]uint32, n)
	}
	segs, from, to := ls.seg[:n], ls.from[:n], ls.to[:n]
	lb := r.loBits()
	dmask := uint32(1)<<r.dBits - 1
	for i, h := range hs {
		seg := &r.segs[segOf(uint64(h)<<32, r.sBits)]
		b := (h >> lb) & dmask
		segs[i], from[i], to[i] = seg, seg.dir[b], seg.dir[b+1]
	}
	// Touch every bucket first: the loop below branches on what it loads, which would make the
	// processor wait for each miss in turn.
	touch := uint16(0)
	for i := range hs {
		if from[i] < to[i] {
			touch += segs[i].lo[from[i]]
		}
	}
	ls.touch += int(touch)
	lomask := uint16(1<<lb - 1)
	ls.hitSeg, ls.hitPos = ls.hitSeg[:0], ls.hitPos[:0]
	for i, h := range hs {
		want := (uint16(h) | 1) & lomask
		seg := segs[i]
		for j, l := range seg.lo[from[i]:to[i]] {
			if l|1 == want && accept&(1<<(l&1)) != 0 {
				ls.hitSeg = append(ls.hitSeg, seg)
				ls.hitPos = append(ls.hitPos, from[i]+uint32(j))
			}
		}
	}
	for i, seg := range ls.hitSeg {
		dst = append(dst, seg.val[ls.hitPos[i]])
	}
	clear(segs)
	clear(ls.hitSeg)
	return dst
}

// appendRange appends every entry whose key is in [from, to) (to may be 1<<32) as key<<32|value,
// in bucket order. Both ends must fall on bucket boundaries of the run.
func (r *hashRun) appendRange(dst []uint64, from, to uint64) []uint64 {
	lb := r.loBits()
	for s := segOf(from<<32, r.sBits); int(s) < len(r.segs); s++ {
		segStart := uint64(s) << (32 - r.sBits)
		if r.sBits == 0 {
			segStart = 0
		}
		if segStart >= to {
			break
		}
		seg := &r.segs[s]
		nb := uint64(1) << r.dBits
		b0 := uint64(0)
		if from > segStart {
			b0 = (from - segStart) >> lb
		}
		b1 := min(nb, (to-segStart)>>lb)
		for b := b0; b < b1; b++ {
			base := segStart | b<<lb
			for i := seg.dir[b]; i < seg.dir[b+1]; i++ {
				dst = append(dst, (base|uint64(seg.lo[i]))<<32|uint64(seg.val[i]))
			}
		}
	}
	return dst
}

// bytes returns the memory the run holds.
func (r *hashRun) bytes() int {
	b := 0
	for i := range r.segs {
		b += 4*cap(r.segs[i].dir) + 2*cap(r.segs[i].lo) + 4*cap(r.segs[i].val)
	}
	return b
}

// hashMerge merges runs into a new one, one output segment per step, so that no single call
// does more than about maxSegEntries entries of work. Its inputs stay searchable until it is done.
type hashMerge struct {
	in   []*hashRun
	out  *hashRun
	next int
	buf  []uint64
	sc   segScratch
}

func newHashMerge(in []*hashRun, pool *segPool) *hashMerge {
	out := &hashRun{}
	for _, r := range in {
		out.n += r.n
	}
	out.sBits, out.dBits = runShape(out.n)
	// Output segments must be whole buckets of every input.
	for _, r := range in {
		out.sBits = min(out.sBits, r.sBits+r.dBits)
	}
	out.segs = make([]hashSeg, 1<<out.sBits)
	return &hashMerge{in: in, out: out, sc: segScratch{pool: pool}}
}

// step builds output segments until about budget entries were moved or the merge is done.
func (m *hashMerge) step(budget int) (moved int, done bool) {
	for moved < budget && m.next < len(m.out.segs) {
		from := uint64(m.next) << (32 - m.out.sBits)
		to := uint64(m.next+1) << (32 - m.out.sBits)
		if m.out.sBits == 0 {
			from, to = 0, 1<<32
		}
		m.buf = m.buf[:0]
		for _, r := range m.in {
			m.buf = r.appendRange(m.buf, from, to)
		}
		m.out.buildSeg(m.next, m.buf, &m.sc)
		moved += len(m.buf)
		m.next++
	}
	if m.next == len(m.out.segs) {
		m.buf, m.sc.fill = nil, nil
		return moved, true
	}
	return moved, false
}

func (m *hashMerge) result() *hashRun { return m.out }

// bitsFor returns the number of bits needed to hold n.
func bitsFor(n uint32) uint {
	b := uint(0)
	for n > 0 {
		b++
		n >>= 1
	}
	return b
}
