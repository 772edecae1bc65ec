package matcher

// maxSerialLen bounds the normalised length of an indexed serial; longer ones are cut, which only
// matters for garbage input (real serials are under 20 characters).
const maxSerialLen = 64

// noSerial ends a chain of serial ids.
const noSerial = ^uint32(0)

// serialRec is one indexed serial. The fields a search reads together sit together, so verifying
// a candidate costs one cache miss, not one per field.
type serialRec struct {
	addr    uint32 // normal form: arena bytes at addr, n long
	slot    uint32 // the record's slot
	group   uint32 // the skeleton group
	nextInG uint32 // next serial id of the same group, noSerial at the end
	nextInR uint32 // next serial id of the same record, noSerial at the end
	n       uint8  // 0 for a removed serial
	capN    uint8  // bytes reserved at addr: a reused id keeps its space
	other   bool   // an other serial (slide, barrel, import mark), not the frame's
	tag     uint8  // make tag of the record (see makeTag), for the edit tier's make filter
}

// serialTable holds every indexed serial (the serial of record and each other serial) under a
// dense serial id. Rows and strings live in pages (paged.go), so the table is pointer-free: the
// garbage collector never scans it, whatever the record count. Removed serials' ids are reused,
// with their bytes when the new serial fits (a record written again usually keeps its serial).
type serialTable struct {
	arena    arena
	rec      paged[serialRec]
	free     []uint32
	liveSize int
}

// add stores one normalised serial and returns its id; the caller links it into its chains.
func (t *serialTable) add(slot uint32, norm []byte, other bool, tag uint8) uint32 {
	r := serialRec{slot: slot, nextInG: noSerial, nextInR: noSerial, n: uint8(len(norm)),
		other: other, tag: tag}
	t.liveSize++
	var id uint32
	if k := len(t.free); k > 0 {
		id = t.free[k-1]
		t.free = t.free[:k-1]
		if old := t.rec.at(id); int(old.capN) >= len(norm) {
			r.addr, r.capN = old.addr, old.capN
			t.arena.put(r.addr, norm)
		}
	} else {
		id = t.rec.push(serialRec{})
	}
	if r.capN == 0 {
		r.addr, r.capN = arenaAdd(&t.arena, norm), uint8(len(norm))
	}
	*t.rec.at(id) = r
	return id
}

// norm returns the normal form of serial id; it aliases the arena and must not be kept across
// a write.
func (t *serialTable) norm(id uint32) []byte {
	r := t.rec.at(id)
	return t.arena.get(r.addr, int(r.n))
}

// remove frees id; the caller has unlinked it.
func (t *serialTable) remove(id uint32) {
	r := t.rec.at(id)
	*r = serialRec{addr: r.addr, capN: r.capN, nextInG: noSerial, nextInR: noSerial}
	t.free = append(t.free, id)
	t.liveSize--
}

// bytes returns the memory the serial table holds.
func (t *serialTable) bytes() int {
	return t.arena.bytes() + 24*t.rec.cap() + 4*cap(t.free)
}

// inlineSkel is how long a skeleton may be to live inside its group record; nearly all serials
// fit, so checking a candidate group touches one cache line. A longer skeleton keeps its arena
// address in the first four inline bytes.
const inlineSkel = 13

// groupRec is one distinct skeleton and its serials.
type groupRec struct {
	head uint32 // first serial id, noSerial when the group is empty
	live uint32 // serials in the group
	n    uint8
	tag  uint8 // make tag (see makeTag) of the group's serials' records, for the edit tier
	// itag is the make tag the deletion index holds the group's entries under: noTag until the
	// group is indexed, multiTags when it holds them under several (see Index.claimTag).
	itag   uint8
	inline [inlineSkel]byte
}

// groupTable gives each distinct skeleton a group id (from 1; 0 is none) with the chain of serials
// that have it. Groups are never removed, only emptied, so ids stay valid for the fuzzy indexes;
// an emptied group is revived when its skeleton comes back.
type groupTable struct {
	arena arena
	rec   paged[groupRec]
	index hashRows
}

func (t *groupTable) init() {
	t.rec = paged[groupRec]{}
	t.rec.push(groupRec{head: noSerial})
	t.index.init()
}

// skel returns the skeleton of group g, aliasing the table.
func (t *groupTable) skel(g uint32) []byte {
	r := t.rec.at(g)
	if r.n <= inlineSkel {
		return r.inline[:r.n]
	}
	addr := uint32(r.inline[0]) | uint32(r.inline[1])<<8 | uint32(r.inline[2])<<16 | uint32(r.inline[3])<<24
	return t.arena.get(addr, int(r.n))
}

// count returns the number of group ids handed out, plus one for the unused id 0.
func (t *groupTable) count() int { return t.rec.len() }

// lookup returns the group of skeleton s, or 0.
func (t *groupTable) lookup(s []byte) uint32 {
	g, _ := t.index.find(s, hash64(s), t.skel)
	return g
}

// touch reads what lookup(s) will read first (its hash slot and the group it points to), so that
// a search can have several lookups' cache misses in flight at once; it returns a value to keep
// the loads.
func (t *groupTable) touch(s []byte) int {
	if g := t.index.touch(hash64(s)); g != noRow {
		return int(t.rec.at(g).n)
	}
	return 0
}

// intern returns the group of skeleton s, creating it when new; created reports a new group.
func (t *groupTable) intern(s []byte) (g uint32, created bool) {
	h := hash64(s)
	if g, ok := t.index.find(s, h, t.skel); ok {
		return g, false
	}
	r := groupRec{head: noSerial, n: uint8(len(s))}
	if len(s) <= inlineSkel {
		copy(r.inline[:], s)
	} else {
		addr := arenaAdd(&t.arena, s)
		r.inline[0], r.inline[1], r.inline[2], r.inline[3] = byte(addr), byte(addr>>8), byte(addr>>16), byte(addr>>24)
	}
	g = t.rec.push(r)
	t.index.insert(s, h, g)
	return g, true
}

// bytes returns the memory the group table holds.
func (t *groupTable) bytes() int {
	return t.arena.bytes() + 24*t.rec.cap() + t.index.bytes()
}
