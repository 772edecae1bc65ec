package matcher

import "encoding/binary"

// hashRows finds a table row by its string key (a record key, a skeleton): an open-addressing
// table of uint64 slots, each the top 32 bits of the key's hash beside the row, so a lookup of a
// key that is not there (every new record) touches one cache line, and one that is compares the
// key once. Growing it never stalls a write: the larger table is allocated a page per insert
// ahead of need, then filled from the old one a few slots per insert while lookups consult both
// (incremental rehashing). Allocating or rehashing 4 million slots at once took 30 ms.
type hashRows struct {
	cur  slotTable
	old  slotTable // the table being emptied into cur; no pages when none
	prep slotTable // the next table, its pages allocated ahead of need
	next uint32    // the first slot of old not yet moved
	used int       // occupied slots of cur, tombstones included
	live int
}

// slotTable is a power-of-two table of slots in pages of slotPage, so that it can be allocated a
// page at a time.
type slotTable struct {
	pages [][]uint64
	size  uint32
}

const (
	slotPageBits = 16
	slotPage     = 1 << slotPageBits
)

func (t *slotTable) at(i uint32) *uint64 { return &t.pages[i>>slotPageBits][i&(slotPage-1)] }

// allocPage adds the next page of a table of size slots; it reports whether the table is whole.
func (t *slotTable) allocPage() bool {
	if n := len(t.pages) * slotPage; uint32(n) < t.size {
		t.pages = append(t.pages, make([]uint64, min(slotPage, int(t.size))))
	}
	return uint32(len(t.pages)*slotPage) >= t.size
}

const (
	rowTombstone = 1 // a slot whose row was removed; real slots have a low word of at least 2
	migrateStep  = 16
)

// rowSlot packs a hash tag and a row; the low word is row+2, so 0 and 1 are free for empty and
// tombstone.
func rowSlot(tag uint32, row uint32) uint64 { return uint64(tag)<<32 | uint64(row+2) }

func slotRow(v uint64) uint32 { return uint32(v) - 2 }

func (h *hashRows) init() {
	*h = hashRows{cur: slotTable{size: 1024}}
	h.cur.allocPage()
}

// find returns the row of key, whose hash is hash; keyOf gives a row's key.
func (h *hashRows) find(key []byte, hash uint64, keyOf func(uint32) []byte) (uint32, bool) {
	tag := uint32(hash >> 32)
	if r, ok := probeRows(&h.cur, tag, key, keyOf); ok {
		return r, true
	}
	if h.old.size > 0 {
		return probeRows(&h.old, tag, key, keyOf)
	}
	return 0, false
}

// probeRows looks key up in one table.
func probeRows(t *slotTable, tag uint32, key []byte, keyOf func(uint32) []byte) (uint32, bool) {
	mask := t.size - 1
	for i := tag & mask; ; i = (i + 1) & mask {
		v := *t.at(i)
		if v == 0 {
			return 0, false
		}
		if v != rowTombstone && uint32(v>>32) == tag && string(keyOf(slotRow(v))) == string(key) {
			return slotRow(v), true
		}
	}
}

// touch reads the slot where key's hash starts its probe, and reports the row there (or
// noRow), for a caller that warms the cache before its real lookups.
func (h *hashRows) touch(hash uint64) uint32 {
	tag := uint32(hash >> 32)
	v := *h.cur.at(tag & (h.cur.size - 1))
	if v < 2 {
		return noRow
	}
	return slotRow(v)
}

// noRow is what touch reports for an empty slot.
const noRow = ^uint32(0)

// insert records that row holds key; key must not be present.
func (h *hashRows) insert(key []byte, hash uint64, row uint32) {
	h.migrate()
	h.prepare()
	if 2*(h.used+1) > int(h.cur.size) {
		h.grow()
	}
	h.place(rowSlot(uint32(hash>>32), row))
	h.live++
}

// place puts slot value v in cur.
func (h *hashRows) place(v uint64) {
	mask := h.cur.size - 1
	i := uint32(v>>32) & mask
	for p := h.cur.at(i); *p != 0 && *p != rowTombstone; p = h.cur.at(i) {
		i = (i + 1) & mask
	}
	p := h.cur.at(i)
	if *p == 0 {
		h.used++
	}
	*p = v
}

// prepare allocates pages of the next table once cur is three-eighths full, enough per insert
// that the table is whole by the time cur is half full and grow switches to it.
func (h *hashRows) prepare() {
	if 8*h.used < 3*int(h.cur.size) || h.old.size > 0 {
		return
	}
	if h.prep.size == 0 {
		size := uint32(1024)
		for int(size) < 4*(h.live+1) {
			size *= 2
		}
		h.prep = slotTable{size: size}
	}
	pages := int(h.prep.size+slotPage-1) / slotPage
	per := 1 + pages/max(1, int(h.cur.size)/8)
	for range per {
		h.prep.allocPage()
	}
}

// grow switches to the prepared table and starts moving the old one's slots into it.
func (h *hashRows) grow() {
	for h.old.size > 0 {
		h.migrate()
	}
	if h.prep.size == 0 {
		h.prepare()
	}
	for !h.prep.allocPage() {
	}
	h.old, h.next = h.cur, 0
	h.cur, h.prep, h.used = h.prep, slotTable{}, 0
}

// migrate moves a few slots of the old table into the current one.
func (h *hashRows) migrate() {
	if h.old.size == 0 {
		return
	}
	end := min(h.next+migrateStep, h.old.size)
	for i := h.next; i < end; i++ {
		if p := h.old.at(i); *p != 0 && *p != rowTombstone {
			h.place(*p)
			*p = rowTombstone // lookups must not find a moved row there once it is removed
		}
	}
	h.next = end
	if end == h.old.size {
		h.old = slotTable{}
	}
}

// remove forgets key, held by row.
func (h *hashRows) remove(key []byte, hash uint64, row uint32) {
	want := rowSlot(uint32(hash>>32), row)
	for _, t := range [2]*slotTable{&h.cur, &h.old} {
		if t.size == 0 {
			continue
		}
		mask := t.size - 1
		for i := uint32(want>>32) & mask; *t.at(i) != 0; i = (i + 1) & mask {
			if p := t.at(i); *p == want {
				*p = rowTombstone
				h.live--
				return
			}
		}
	}
}

// len returns the number of keys.
func (h *hashRows) len() int { return h.live }

// bytes returns the memory the table holds.
func (h *hashRows) bytes() int {
	n := 0
	for _, t := range [3]*slotTable{&h.cur, &h.old, &h.prep} {
		for _, p := range t.pages {
			n += 8 * len(p)
		}
	}
	return n
}

// hash64 hashes a short byte string eight bytes at a time (a multiply-xorshift mix; keys are not
// chosen by an adversary, and collisions are handled anyway).
func hash64(b []byte) uint64 {
	h := uint64(len(b))*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0x94d049bb133111eb
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// hash64String is hash64 for a string, without copying it.
func hash64String(s string) uint64 {
	h := uint64(len(s))*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	for len(s) >= 8 {
		h = (h ^ (uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
		s = s[8:]
	}
	var t uint64
	for i := 0; i < len(s); i++ {
		t |= uint64(s[i]) << (8 * i)
	}
	h = (h ^ t) * 0x94d049bb133111eb
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}
