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
//
// A run withPos also keeps a byte beside every entry (pos), which lookups may filter on before
// they read the value: the deletion index stores there the character a variant deleted and its
// position (see variantPos), so that an exact query tells a dense run's neighbours two edits away
// from those one edit away, and its own skeleton, without reading them. Entries travel through builds and merges as key<<32|value
// with their position bytes in a parallel slice (nil for a run without).
//
// A run that is tagged (the deletion index's: every value is tag<<tagBits|group, see makeTag)
// also keeps the make tag in the bits of lo above the key's (loTagBits of them: all six where the
// key leaves room, as in the runs of a large index, fewer in smaller runs, none in the smallest),
// so that lookupBatch turns away another make's entries in the bucket scan, without reading their
// values: an unrecorded serial's two-edit probes match a hundred entries a query, nine in ten of
// other makes. The tag bits are a copy of the value's: builds and merges take them from the value
// and rebuild keys without them.
type hashRun struct {
	n            int
	sBits, dBits uint // segment and bucket bits; sBits+dBits >= 16
	withPos      bool
	tagged       bool
	segs         []hashSeg
}

type hashSeg struct {
	dir []uint32 // bucket b holds entries dir[b]:dir[b+1]
	lo  []uint16 // key bits below sBits+dBits, and above them the make tag's low loTagBits
	val []uint32
	pos []uint8 // the entries' position bytes (withPos only)
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

// makeTagBits is how many bits a make tag has (1 to 62, anyMake).
const makeTagBits = 6

// loTagBits returns how many low bits of the make tag a tagged run keeps in lo: what the key bits
// leave of sixteen, at most the whole tag.
func (r *hashRun) loTagBits() uint {
	if !r.tagged {
		return 0
	}
	return min(makeTagBits, 16-r.loBits())
}

// loOf returns what lo holds for an entry of key k and value v: the key's low bits and, in a
// tagged run, the tag bits the run keeps.
func (r *hashRun) loOf(k, v uint32) uint16 {
	lb := r.loBits()
	lo := uint16(k) & uint16(1<<lb-1)
	if tb := r.loTagBits(); tb > 0 {
		lo |= uint16(v>>tagBits) & uint16(1<<tb-1) << lb
	}
	return lo
}

// newHashRun builds a run from entries key<<32|value in any order, with their position bytes in
// pos (nil: a run without positions), tagged when its values carry make tags; it reorders ents
// and pos. The entries are first partitioned
// by segment (a scatter into few streams, which caches absorb), then each segment is laid out by
// a counting sort on its bucket bits.
func newHashRun(ents []uint64, pos []uint8, tagged bool, pool *segPool) *hashRun {
	r := &hashRun{n: len(ents), withPos: pos != nil, tagged: tagged}
	r.sBits, r.dBits = runShape(len(ents))
	r.segs = make([]hashSeg, 1<<r.sBits)
	sc := segScratch{pool: pool}
	if r.sBits == 0 {
		r.buildSeg(0, ents, pos, &sc)
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
	var tmpPos []uint8
	if pos != nil {
		tmpPos = make([]uint8, len(ents))
	}
	fill := make([]int, len(r.segs))
	copy(fill, start)
	for i, e := range ents {
		s := segOf(e, r.sBits)
		tmp[fill[s]] = e
		if pos != nil {
			tmpPos[fill[s]] = pos[i]
		}
		fill[s]++
	}
	for s := range r.segs {
		var p []uint8
		if pos != nil {
			p = tmpPos[start[s]:start[s+1]]
		}
		r.buildSeg(s, tmp[start[s]:start[s+1]], p, &sc)
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

// buildSeg fills segment s from its entries, in any order, and their position bytes (pos, nil in a
// run without), by a counting sort on the bucket bits. Entries within a bucket stay in the order
// given: lookups scan a whole bucket.
func (r *hashRun) buildSeg(s int, ents []uint64, pos []uint8, sc *segScratch) {
	seg := &r.segs[s]
	nb := 1 << r.dBits
	seg.dir = sc.pool.dirOf(nb + 1)
	seg.lo, seg.val, seg.pos = sc.pool.loVal(len(ents), r.withPos)
	if pos == nil {
		clear(seg.pos) // a reused array: entries without a byte read as 0
	}
	lb := r.loBits()
	bmask := uint64(nb - 1)
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
	for k, e := range ents {
		b := ((e >> 32) >> lb) & bmask
		i := fill[b]
		fill[b]++
		seg.lo[i] = r.loOf(uint32(e>>32), uint32(e))
		seg.val[i] = uint32(e)
		if pos != nil {
			seg.pos[i] = pos[k]
		}
	}
}

// lookup appends the values under hash h (its low bit clear) whose key's low bit is accepted:
// accept bit 0 takes keys h, bit 1 takes keys h|1. The low key bit is a flag the owner chooses
// (the deletion index marks two-deletion variants with it). It takes every make.
func (r *hashRun) lookup(dst []uint32, h uint32, accept uint32) []uint32 {
	seg := &r.segs[segOf(uint64(h)<<32, r.sBits)]
	lb := r.loBits()
	b := (h >> lb) & (1<<r.dBits - 1)
	lomask := uint16(1<<lb - 1)
	want := (uint16(h) | 1) & lomask
	lo, val := seg.lo[seg.dir[b]:seg.dir[b+1]], seg.val[seg.dir[b]:seg.dir[b+1]]
	for i, l := range lo {
		if (l|1)&lomask == want && accept&(1<<(l&1)) != 0 {
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
	// passed counts the entries a position mask turned away (their values were not read).
	passed int
	// otherMake counts the entries turned away by their make tag.
	otherMake int
}

// lookupBatch is lookup for many hashes at once (their low bits are ignored). It works in passes
// (every bucket's bounds, then every bucket's keys, then the values found) so that the memory
// accesses of different hashes are independent and the processor overlaps their cache and TLB
// misses: a search probes dozens of keys in a run of hundreds of megabytes, and one miss after
// another would cost most of its time.
//
// filters, when not nil, filters by position byte: an entry found for hs[i] is taken only when
// filters[i] takes its byte; the others are counted in ls.passed and their values are not read.
// An entry of a run without positions is always taken.
//
// tag is the query's make tag (anyMake takes every make): in a tagged run, an entry whose tag
// bits in lo show another make (tagMatches false on them) is counted in ls.otherMake and its
// value is not read. With fewer than six tag bits kept, some entries of other makes are taken
// still; the caller checks the values' tags.
func (r *hashRun) lookupBatch(dst []uint32, hs []uint32, accept uint32, filters []posFilter, tag uint32, ls *lookupScratch) []uint32 {
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
	filter := filters != nil && r.withPos
	touch := uint16(0)
	for i := range hs {
		if from[i] < to[i] {
			touch += segs[i].lo[from[i]]
			if filter {
				touch += uint16(segs[i].pos[from[i]])
			}
		}
	}
	ls.touch += int(touch)
	lomask := uint16(1<<lb - 1)
	// An entry's tag bits t are taken when they are the query's (qt) or anyMake's (all ones);
	// with no bits kept, or a query of any make, every entry is.
	tb := r.loTagBits()
	allMakes := tb == 0 || tag == anyMake
	qt, at := uint16(tag)&(1<<tb-1), uint16(1<<tb-1)
	ls.hitSeg, ls.hitPos = ls.hitSeg[:0], ls.hitPos[:0]
	for i, h := range hs {
		want := (uint16(h) | 1) & lomask
		seg := segs[i]
		for j, l := range seg.lo[from[i]:to[i]] {
			if (l|1)&lomask != want || accept&(1<<(l&1)) == 0 {
				continue
			}
			if filter && !filters[i].takes(seg.pos[from[i]+uint32(j)]) {
				ls.passed++
				continue
			}
			if t := l >> lb; !allMakes && t != qt && t != at {
				ls.otherMake++
				continue
			}
			ls.hitSeg = append(ls.hitSeg, seg)
			ls.hitPos = append(ls.hitPos, from[i]+uint32(j))
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
// in bucket order, and when dpos is not nil its position byte to dpos (0 for a run without). Both
// ends must fall on bucket boundaries of the run.
func (r *hashRun) appendRange(dst []uint64, dpos []uint8, from, to uint64) ([]uint64, []uint8) {
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
		lomask := uint16(1<<lb - 1)
		for b := b0; b < b1; b++ {
			base := segStart | b<<lb
			for i := seg.dir[b]; i < seg.dir[b+1]; i++ {
				dst = append(dst, (base|uint64(seg.lo[i]&lomask))<<32|uint64(seg.val[i]))
			}
			switch {
			case dpos == nil:
			case r.withPos:
				dpos = append(dpos, seg.pos[seg.dir[b]:seg.dir[b+1]]...)
			default:
				for i := seg.dir[b]; i < seg.dir[b+1]; i++ {
					dpos = append(dpos, 0)
				}
			}
		}
	}
	return dst, dpos
}

// bytes returns the memory the run holds.
func (r *hashRun) bytes() int {
	b := 0
	for i := range r.segs {
		b += 4*cap(r.segs[i].dir) + 2*cap(r.segs[i].lo) + 4*cap(r.segs[i].val) + cap(r.segs[i].pos)
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
	pbuf []uint8 // the position bytes of buf, when the output has them
	sc   segScratch
}

func newHashMerge(in []*hashRun, pool *segPool) *hashMerge {
	out := &hashRun{}
	for _, r := range in {
		out.n += r.n
		out.withPos = out.withPos || r.withPos
		out.tagged = out.tagged || r.tagged
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
		var pbuf []uint8
		if m.out.withPos {
			if pbuf = m.pbuf[:0]; pbuf == nil {
				pbuf = make([]uint8, 0, maxSegEntries)
			}
		}
		for _, r := range m.in {
			m.buf, pbuf = r.appendRange(m.buf, pbuf, from, to)
		}
		m.out.buildSeg(m.next, m.buf, pbuf, &m.sc)
		m.pbuf = pbuf
		moved += len(m.buf)
		m.next++
	}
	if m.next == len(m.out.segs) {
		m.buf, m.pbuf, m.sc.fill = nil, nil, nil
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
