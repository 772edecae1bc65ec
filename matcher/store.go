package matcher

// maxSerialLen bounds the normalised length of an indexed serial; longer ones are cut, which only
// matters for garbage input (real serials are under 20 characters).
const maxSerialLen = 64

// serialTable holds every indexed serial (the serial of record and each other serial) under a
// dense serial id. Strings live in one byte arena, so the table is pointer-free: the garbage
// collector never scans it, whatever the record count. Removed serials leave their bytes in the
// arena until the next bulk load; their ids are reused.
type serialTable struct {
	arena    []byte
	off      []uint32 // normal form: arena[off:off+n]
	n        []uint8
	other    []bool   // an other serial (slide, barrel, import mark), not the frame's
	slot     []uint32 // the record's slot
	group    []uint32 // the skeleton group
	nextInG  []uint32 // next serial id of the same group, noSerial at the end
	nextInR  []uint32 // next serial id of the same record, noSerial at the end
	free     []uint32
	liveSize int
}

// noSerial ends a chain of serial ids.
const noSerial = ^uint32(0)

// add stores one normalised serial and returns its id; the caller links it into its chains.
func (t *serialTable) add(slot uint32, norm []byte, other bool) uint32 {
	off := uint32(len(t.arena))
	t.arena = append(t.arena, norm...)
	t.liveSize++
	if k := len(t.free); k > 0 {
		id := t.free[k-1]
		t.free = t.free[:k-1]
		t.off[id], t.n[id], t.other[id], t.slot[id] = off, uint8(len(norm)), other, slot
		t.group[id], t.nextInG[id], t.nextInR[id] = 0, noSerial, noSerial
		return id
	}
	t.off = append(t.off, off)
	t.n = append(t.n, uint8(len(norm)))
	t.other = append(t.other, other)
	t.slot = append(t.slot, slot)
	t.group = append(t.group, 0)
	t.nextInG = append(t.nextInG, noSerial)
	t.nextInR = append(t.nextInR, noSerial)
	return uint32(len(t.off) - 1)
}

// norm returns the normal form of serial id; it aliases the arena and must not be kept across
// a write.
func (t *serialTable) norm(id uint32) []byte {
	return t.arena[t.off[id] : t.off[id]+uint32(t.n[id])]
}

// remove frees id; the caller has unlinked it.
func (t *serialTable) remove(id uint32) {
	t.n[id], t.group[id] = 0, 0
	t.free = append(t.free, id)
	t.liveSize--
}

// groupTable gives each distinct skeleton a group id (from 1; 0 is none) with the chain of serials
// that have it. Groups are never removed, only emptied, so ids stay valid for the tries and the
// deletion index between bulk loads; an emptied group is revived when its skeleton comes back.
type groupTable struct {
	arena []byte
	off   []uint32
	n     []uint8
	head  []uint32 // first serial id, noSerial when empty
	live  []uint32 // serials in the group
	slots []uint32 // open addressing over group ids by skeleton hash; 0 is empty
	used  int
}

func (t *groupTable) init() {
	t.arena, t.off, t.n, t.head, t.live = t.arena[:0], []uint32{0}, []uint8{0}, []uint32{noSerial}, []uint32{0}
	t.slots = make([]uint32, 1024)
	t.used = 0
}

// skel returns the skeleton of group g, aliasing the arena.
func (t *groupTable) skel(g uint32) []byte { return t.arena[t.off[g] : t.off[g]+uint32(t.n[g])] }

// count returns the number of group ids handed out, plus one for the unused id 0.
func (t *groupTable) count() int { return len(t.off) }

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
	g = uint32(len(t.off))
	t.off = append(t.off, uint32(len(t.arena)))
	t.arena = append(t.arena, s...)
	t.n = append(t.n, uint8(len(s)))
	t.head = append(t.head, noSerial)
	t.live = append(t.live, 0)
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
	return cap(t.arena) + 4*(cap(t.off)+cap(t.head)+cap(t.live)+cap(t.slots)) + cap(t.n)
}

// bytes returns the memory the serial table holds.
func (t *serialTable) bytes() int {
	return cap(t.arena) + cap(t.n) + cap(t.other) +
		4*(cap(t.off)+cap(t.slot)+cap(t.group)+cap(t.nextInG)+cap(t.nextInR)+cap(t.free))
}
