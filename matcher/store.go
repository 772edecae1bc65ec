package matcher

import "slices"

// maxSerialLen bounds the normalised length of an indexed serial; longer ones are cut, which only
// matters for garbage input (real serials are under 20 characters).
const maxSerialLen = 64

// noSerial ends a chain of serial ids.
const noSerial = ^uint32(0)

// serialRec is one indexed serial. The fields a search reads together sit together, so verifying
// a candidate costs one cache miss, not one per field.
type serialRec struct {
	off     uint32 // normal form: arena[off:off+n]
	slot    uint32 // the record's slot
	group   uint32 // the skeleton group
	nextInG uint32 // next serial id of the same group, noSerial at the end
	nextInR uint32 // next serial id of the same record, noSerial at the end
	n       uint8  // 0 for a removed serial
	other   bool   // an other serial (slide, barrel, import mark), not the frame's
}

// serialTable holds every indexed serial (the serial of record and each other serial) under a
// dense serial id. Strings live in one byte arena, so the table is pointer-free: the garbage
// collector never scans it, whatever the record count. Removed serials leave their bytes in the
// arena until the next rebuild; their ids are reused.
type serialTable struct {
	arena    []byte
	rec      []serialRec
	free     []uint32
	liveSize int
}

// add stores one normalised serial and returns its id; the caller links it into its chains.
func (t *serialTable) add(slot uint32, norm []byte, other bool) uint32 {
	r := serialRec{off: uint32(len(t.arena)), slot: slot, nextInG: noSerial, nextInR: noSerial,
		n: uint8(len(norm)), other: other}
	t.arena = append(t.arena, norm...)
	t.liveSize++
	if k := len(t.free); k > 0 {
		id := t.free[k-1]
		t.free = t.free[:k-1]
		t.rec[id] = r
		return id
	}
	t.rec = append(t.rec, r)
	return uint32(len(t.rec) - 1)
}

// norm returns the normal form of serial id; it aliases the arena and must not be kept across
// a write.
func (t *serialTable) norm(id uint32) []byte {
	r := &t.rec[id]
	return t.arena[r.off : r.off+uint32(r.n)]
}

// remove frees id; the caller has unlinked it.
func (t *serialTable) remove(id uint32) {
	t.rec[id] = serialRec{nextInG: noSerial, nextInR: noSerial}
	t.free = append(t.free, id)
	t.liveSize--
}

// bytes returns the memory the serial table holds.
func (t *serialTable) bytes() int {
	return cap(t.arena) + 24*cap(t.rec) + 4*cap(t.free)
}

// inlineSkel is how long a skeleton may be to live inside its group record; most serials fit, so
// checking a candidate group touches one cache line.
const inlineSkel = 10

// groupRec is one distinct skeleton and its serials.
type groupRec struct {
	head   uint32 // first serial id, noSerial when the group is empty
	live   uint32 // serials in the group
	off    uint32 // skeleton in the arena when longer than inlineSkel
	n      uint8
	tag    uint8 // make tag (see makeTag) of the group's serials' records, for the edit tier
	inline [inlineSkel]byte
}

// groupTable gives each distinct skeleton a group id (from 1; 0 is none) with the chain of serials
// that have it. Groups are never removed, only emptied, so ids stay valid for the tries and the
// deletion index between rebuilds; an emptied group is revived when its skeleton comes back.
type groupTable struct {
	arena []byte
	rec   []groupRec
	slots []uint32 // open addressing over group ids by skeleton hash; 0 is empty
	used  int
}

func (t *groupTable) init() {
	t.arena, t.rec = nil, []groupRec{{head: noSerial}}
	t.slots = make([]uint32, 1024)
	t.used = 0
}

// reserve sizes the hash table for n groups, so a rebuild never grows it.
func (t *groupTable) reserve(n int) {
	size := 1024
	for size < 2*n+2 {
		size *= 2
	}
	if size > len(t.slots) {
		t.slots = make([]uint32, size)
		mask := uint32(size - 1)
		for g := uint32(1); g < uint32(len(t.rec)); g++ {
			i := variantHash(t.skel(g)) & mask
			for t.slots[i] != 0 {
				i = (i + 1) & mask
			}
			t.slots[i] = g
		}
	}
	t.rec = slices.Grow(t.rec, n)
}

// skel returns the skeleton of group g, aliasing the table.
func (t *groupTable) skel(g uint32) []byte {
	r := &t.rec[g]
	if r.n <= inlineSkel {
		return r.inline[:r.n]
	}
	return t.arena[r.off : r.off+uint32(r.n)]
}

// count returns the number of group ids handed out, plus one for the unused id 0.
func (t *groupTable) count() int { return len(t.rec) }

// lookup returns the group of skeleton s, or 0.
func (t *groupTable) lookup(s []byte) uint32 {
	mask := uint32(len(t.slots) - 1)
	for i := variantHash(s) & mask; ; i = (i + 1) & mask {
		g := t.slots[i]
		if g == 0 || string(t.skel(g)) == string(s) {
			return g
		}
	}
}

// intern returns the group of skeleton s, creating it when new; created reports a new group.
func (t *groupTable) intern(s []byte) (g uint32, created bool) {
	if t.used*2 >= len(t.slots) {
		t.grow()
	}
	mask := uint32(len(t.slots) - 1)
	i := variantHash(s) & mask
	for ; t.slots[i] != 0; i = (i + 1) & mask {
		if g := t.slots[i]; string(t.skel(g)) == string(s) {
			return g, false
		}
	}
	r := groupRec{head: noSerial, n: uint8(len(s))}
	if len(s) <= inlineSkel {
		copy(r.inline[:], s)
	} else {
		r.off = uint32(len(t.arena))
		t.arena = append(t.arena, s...)
	}
	g = uint32(len(t.rec))
	t.rec = append(t.rec, r)
	t.slots[i] = g
	t.used++
	return g, true
}

func (t *groupTable) grow() {
	old := t.slots
	t.slots = make([]uint32, 2*len(old))
	mask := uint32(len(t.slots) - 1)
	for _, g := range old {
		if g == 0 {
			continue
		}
		i := variantHash(t.skel(g)) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = g
	}
}

// bytes returns the memory the group table holds.
func (t *groupTable) bytes() int {
	return cap(t.arena) + 24*cap(t.rec) + 4*cap(t.slots)
}
