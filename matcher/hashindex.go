package matcher

// hashIndex is a multimap from 32-bit key hashes to 32-bit values (group or serial ids with a
// few bits of metadata), many values per key, built for a steady stream of additions: the
// deletion index of the edit tier and the auxiliary index of the embedded-letter and token tiers.
//
// New entries go to a small mutable buffer (hash chains in flat arrays, O(1) to add and to look
// up). Its chains are headed by the top 16 bits of the key, which are exactly the buckets of a run
// of its size, so when it fills it becomes an immutable run (hashRun) by walking its chains in
// order, without sorting; tiers then merges runs a bounded amount per write. Entries are never
// removed: lookups return a superset that the caller verifies, so entries of removed serials or
// emptied groups are harmless (they cost memory until the index is built afresh at the next
// restart).
//
// The low bit of a key is a flag the owner chooses; lookup takes the hash with that bit clear and
// a mask of the flags it accepts.
type hashIndex struct {
	key, val []uint32 // the buffer's entries
	pos      []uint8  // their position bytes, in an index withPos (see hashRun)
	withPos  bool
	tagged   bool     // values carry make tags (tag<<tagBits|group), which runs keep in lo
	next     []uint32 // chain: index+1 of the previous entry in the same head slot, 0 ends
	head     []uint32 // by the key's top headBits: index+1 of the newest entry, 0 when none
	tiers    tiers[hashRun]
	pool     segPool
	owed     int // entries added since the last settle
}

const (
	bufferEntries = 1 << 18 // entries the mutable buffer holds before it becomes a run
	headBits      = 16      // the bucket bits of a run of bufferEntries (see runShape)
)

// init empties the index; withPos says whether its entries carry position bytes, tagged whether
// its values carry make tags.
func (x *hashIndex) init(withPos, tagged bool) {
	x.key, x.val, x.pos, x.next, x.head = nil, nil, nil, nil, nil
	x.withPos, x.tagged = withPos, tagged
	x.tiers = tiers[hashRun]{base: bufferEntries,
		size:    func(r *hashRun) int { return r.n },
		merge:   func(in []*hashRun) merger[hashRun] { return newHashMerge(in, &x.pool) },
		release: x.pool.release}
}

// add enters one entry in the buffer, with its position byte pos (ignored in an index without),
// turning the buffer into a run when full.
func (x *hashIndex) add(key, val uint32, pos uint8) {
	if x.head == nil {
		x.head = make([]uint32, 1<<headBits)
		x.key = make([]uint32, 0, bufferEntries)
		x.val = make([]uint32, 0, bufferEntries)
		x.next = make([]uint32, 0, bufferEntries)
		if x.withPos {
			x.pos = make([]uint8, 0, bufferEntries)
		}
	}
	slot := key >> (32 - headBits)
	x.key = append(x.key, key)
	x.val = append(x.val, val)
	if x.withPos {
		x.pos = append(x.pos, pos)
	}
	x.next = append(x.next, x.head[slot])
	x.head[slot] = uint32(len(x.key))
	x.owed++
	if len(x.key) == bufferEntries {
		x.freeze()
	}
}

// freeze turns the buffer into a run. Its head slots are the run's buckets, so one counting
// sort on them lays the run out (a pass that counts, a pass that places, both sequential in the
// buffer); the chains are not walked, which would read the buffer in random order.
func (x *hashIndex) freeze() {
	if len(x.key) == 0 {
		return
	}
	r := &hashRun{n: len(x.key), withPos: x.withPos, tagged: x.tagged}
	r.sBits, r.dBits = runShape(r.n)
	if r.sBits+r.dBits != headBits {
		panic("matcher: buffer and run shapes disagree")
	}
	r.segs = make([]hashSeg, 1<<r.sBits)
	nb := 1 << r.dBits
	fill := make([]uint32, 1<<headBits)
	for _, k := range x.key {
		fill[k>>(32-headBits)]++
	}
	for s := range r.segs {
		seg := &r.segs[s]
		seg.dir = x.pool.dirOf(nb + 1)
		sum := uint32(0)
		for b := range nb {
			seg.dir[b] = sum
			c := fill[s<<r.dBits|b]
			fill[s<<r.dBits|b] = sum
			sum += c
		}
		seg.dir[nb] = sum
		seg.lo, seg.val, seg.pos = x.pool.loVal(int(sum), x.withPos)
	}
	for i, k := range x.key {
		slot := k >> (32 - headBits)
		seg := &r.segs[slot>>r.dBits]
		p := fill[slot]
		fill[slot]++
		seg.lo[p] = r.loOf(k, x.val[i])
		seg.val[p] = x.val[i]
		if x.withPos {
			seg.pos[p] = x.pos[i]
		}
	}
	x.tiers.add(r)
	x.key, x.val, x.pos, x.next = x.key[:0], x.val[:0], x.pos[:0], x.next[:0]
	clear(x.head)
}

// addEntries enters entries key<<32|value with their position bytes (pos: parallel to ents in an
// index withPos, nil otherwise), reordering both, as one run: the bulk path.
func (x *hashIndex) addEntries(ents []uint64, pos []uint8) {
	if len(ents) == 0 {
		return
	}
	if !x.withPos {
		pos = nil
	} else if len(pos) != len(ents) {
		panic("matcher: entries and position bytes disagree")
	}
	x.tiers.add(newHashRun(ents, pos, x.tagged, &x.pool))
	x.owed += len(ents)
}

// settle advances the merges in progress by what was added since the last settle.
func (x *hashIndex) settle() {
	if x.owed > 0 {
		x.tiers.work(x.owed)
		x.owed = 0
	}
}

// lookup appends the values under hash h (low bit clear) whose flag accept takes (bit 0: flag
// clear, bit 1: flag set).
func (x *hashIndex) lookup(dst []uint32, h uint32, accept uint32) []uint32 {
	if x.head != nil {
		for i := x.head[h>>(32-headBits)]; i != 0; i = x.next[i-1] {
			if k := x.key[i-1]; k>>1 == h>>1 && accept&(1<<(k&1)) != 0 {
				dst = append(dst, x.val[i-1])
			}
		}
	}
	for _, lv := range x.tiers.levels {
		for _, r := range lv {
			dst = r.lookup(dst, h, accept)
		}
	}
	return dst
}

// lookupBatch is lookup for many hashes at once (low bits ignored), filtered by position bytes
// when filters is not nil, and in a tagged index by the query's make tag (anyMake: every make):
// see hashRun.lookupBatch.
func (x *hashIndex) lookupBatch(dst []uint32, hs []uint32, accept uint32, filters []posFilter, tag uint32, ls *lookupScratch) []uint32 {
	if x.head != nil {
		filter := filters != nil && x.withPos
		byTag := x.tagged && tag != anyMake
		for j, h := range hs {
			for i := x.head[h>>(32-headBits)]; i != 0; i = x.next[i-1] {
				if k := x.key[i-1]; k>>1 == h>>1 && accept&(1<<(k&1)) != 0 {
					if filter && !filters[j].takes(x.pos[i-1]) {
						ls.passed++
						continue
					}
					v := x.val[i-1]
					if byTag && !tagMatches(v>>tagBits, tag) {
						ls.otherMake++
						continue
					}
					dst = append(dst, v)
				}
			}
		}
	}
	for _, lv := range x.tiers.levels {
		for _, r := range lv {
			dst = r.lookupBatch(dst, hs, accept, filters, tag, ls)
		}
	}
	return dst
}

// touch reads the bucket of hash h in every run, as lookup will, and returns a value to keep the
// loads (see groupTable.touch).
func (x *hashIndex) touch(h uint32) int {
	t := uint32(0)
	for _, lv := range x.tiers.levels {
		for _, r := range lv {
			seg := &r.segs[segOf(uint64(h)<<32, r.sBits)]
			b := (h >> r.loBits()) & (1<<r.dBits - 1)
			if i := seg.dir[b]; i < seg.dir[b+1] {
				t += uint32(seg.lo[i])
			}
		}
	}
	return int(t)
}

// compact merges every run (and the buffer) into one; it costs a pass over the index.
func (x *hashIndex) compact() {
	x.freeze()
	x.pool.drop(true)
	x.tiers.finish()
	x.pool.drop(false)
}

// prepareCompaction merges every run into one without writing to x (see Index.PrepareCompaction).
func (x *hashIndex) prepareCompaction() compacted[hashRun] {
	exact := &segPool{exact: true}
	return x.tiers.prepare(func(in []*hashRun) merger[hashRun] { return newHashMerge(in, exact) })
}

// installCompaction puts a prepared compaction in place (see tiers.install).
func (x *hashIndex) installCompaction(c compacted[hashRun]) {
	x.tiers.install(c, func(m merger[hashRun]) { x.pool.release(m.result()) })
}

// fragmented reports whether the runs other than the largest hold more than a quarter of what
// the largest does, or there are many runs: then searches pay noticeably for the merges still to
// come, and a compaction is worth its cost.
func (x *hashIndex) fragmented() bool {
	runs, largest, total := 0, 0, 0
	x.tiers.each(func(r *hashRun) {
		runs++
		largest = max(largest, r.n)
		total += r.n
	})
	return runs > 8 || runs > 1 && 4*(total-largest) > largest
}

// size returns the number of entries.
func (x *hashIndex) size() int {
	n := len(x.key)
	x.tiers.each(func(r *hashRun) { n += r.n })
	return n
}

// bytes returns the memory the index holds (merges in progress not counted).
func (x *hashIndex) bytes() int {
	b := 4*(cap(x.key)+cap(x.val)+cap(x.next)+len(x.head)) + cap(x.pos)
	x.tiers.each(func(r *hashRun) { b += r.bytes() })
	return b
}
