package matcher

import "unicode/utf8"

// none is the interned id of an absent or unknown attribute.
const none = 0

// interner gives each distinct string a small dense id, starting at 1 (0 is none).
type interner struct {
	ids   map[string]uint32
	names []string
}

func (in *interner) init() {
	in.ids = make(map[string]uint32)
	in.names = []string{""}
}

// intern returns the id of s, adding it when new; the empty string is none.
func (in *interner) intern(s string) uint32 {
	if s == "" {
		return none
	}
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.names))
	in.ids[s] = id
	in.names = append(in.names, s)
	return id
}

// lookup returns the id of s without adding it, so Search never writes.
func (in *interner) lookup(s string) (uint32, bool) {
	id, ok := in.ids[s]
	return id, ok
}

// attrs are a record's (or a query's) descriptive fields, resolved through the reference tables.
type attrs struct {
	make     uint32 // canonical make, or the folded spelling when the tables do not know it
	spelling uint32 // folded make spelling as written, to tell "same" from "alias"
	calibre  uint32 // calibre equivalence class, or the folded spelling
	calSpell uint32 // folded calibre spelling as written
	model    uint32 // folded model
	types    uint32 // bit set of the record types the type word may mean
}

// slotRec is one record: where its key is and its first serial id, beside its attributes.
type slotRec struct {
	attrs
	keyOff uint32
	keyLen uint16 // 0 for a free slot
	first  uint32 // first serial id of the record's chain (serialRec.nextInR), noSerial if none
}

// recordTable holds one row per slot; slots of deleted records are reused. Keys live in a byte
// arena and are found through an open-addressing table of slots, so the table is pointer-free.
type recordTable struct {
	rec      []slotRec
	keyArena []byte
	keySlots []uint32 // slot+1 by key hash; 0 is empty, tombstone marks a deleted key
	used     int      // occupied keySlots, tombstones included
	live     int
	free     []uint32

	makes, spellings, calibres, models, types interner
}

const tombstone = ^uint32(0)

func (t *recordTable) init() {
	t.keySlots = make([]uint32, 1024)
	for _, in := range []*interner{&t.makes, &t.spellings, &t.calibres, &t.models, &t.types} {
		in.init()
	}
}

// key returns the key of slot, aliasing the arena.
func (t *recordTable) key(slot uint32) []byte {
	r := &t.rec[slot]
	return t.keyArena[r.keyOff : r.keyOff+uint32(r.keyLen)]
}

// lookup returns the slot of key.
func (t *recordTable) lookup(key string) (uint32, bool) {
	mask := uint32(len(t.keySlots) - 1)
	for i := keyHash(key) & mask; ; i = (i + 1) & mask {
		switch v := t.keySlots[i]; {
		case v == 0:
			return 0, false
		case v != tombstone && string(t.key(v-1)) == key:
			return v - 1, true
		}
	}
}

// add stores e in a free slot and returns it; its serials are linked by the caller. The key must
// not be present.
func (t *recordTable) add(e Entry, ref Reference) uint32 {
	a := attrs{
		spelling: t.spellings.intern(foldName(e.Make)),
		model:    t.models.intern(foldName(e.Model)),
		calSpell: t.spellings.intern(foldName(e.Calibre)),
	}
	if id := resolveMake(ref, e.Make); id != "" {
		a.make = t.makes.intern(id)
	}
	if id := resolveCalibre(ref, e.Calibre); id != "" {
		a.calibre = t.calibres.intern(id)
	}
	for _, ty := range resolveTypes(ref, e.Type) {
		a.types |= typeBit(t.types.intern(ty))
	}
	key := e.Key[:min(len(e.Key), 1<<16-1)]
	r := slotRec{attrs: a, keyOff: uint32(len(t.keyArena)), keyLen: uint16(len(key)), first: noSerial}
	t.keyArena = append(t.keyArena, key...)
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
		t.rec[slot] = r
	} else {
		slot = uint32(len(t.rec))
		t.rec = append(t.rec, r)
	}
	if 2*(t.used+1) > len(t.keySlots) {
		t.rehash(max(len(t.keySlots), 4*t.live))
	}
	mask := uint32(len(t.keySlots) - 1)
	i := keyHash(key) & mask
	for t.keySlots[i] != 0 && t.keySlots[i] != tombstone {
		i = (i + 1) & mask
	}
	if t.keySlots[i] == 0 {
		t.used++
	}
	t.keySlots[i] = slot + 1
	t.live++
	return slot
}

// remove frees slot; the serial ids were unlinked by the caller.
func (t *recordTable) remove(slot uint32) {
	mask := uint32(len(t.keySlots) - 1)
	for i := keyHash(string(t.key(slot))) & mask; ; i = (i + 1) & mask {
		if t.keySlots[i] == slot+1 {
			t.keySlots[i] = tombstone
			break
		}
	}
	t.rec[slot] = slotRec{first: noSerial}
	t.free = append(t.free, slot)
	t.live--
}

// rehash rebuilds the key table with at least size positions, dropping tombstones, and compacts
// the key arena when deleted keys take much of it.
func (t *recordTable) rehash(size int) {
	n := 1024
	for n < size {
		n *= 2
	}
	liveBytes := 0
	for i := range t.rec {
		liveBytes += int(t.rec[i].keyLen)
	}
	if liveBytes < len(t.keyArena)/2 {
		arena := make([]byte, 0, liveBytes)
		for i := range t.rec {
			k := t.key(uint32(i))
			t.rec[i].keyOff = uint32(len(arena))
			arena = append(arena, k...)
		}
		t.keyArena = arena
	}
	t.keySlots = make([]uint32, n)
	t.used = 0
	mask := uint32(n - 1)
	for slot := range t.rec {
		if t.rec[slot].keyLen == 0 {
			continue
		}
		i := keyHash(string(t.key(uint32(slot)))) & mask
		for t.keySlots[i] != 0 {
			i = (i + 1) & mask
		}
		t.keySlots[i] = uint32(slot) + 1
		t.used++
	}
}

// keyHash hashes a record key (FNV-1a, mixed).
func keyHash(s string) uint32 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 32
	return uint32(h)
}

// typeBit maps an interned type id to its bit; ids past 31 share the last bit, which only makes
// rare extra type words compare as compatible.
func typeBit(id uint32) uint32 {
	if id == none {
		return 0
	}
	return 1 << min(id-1, 31)
}

// resolveMake returns the canonical make id, the folded spelling (marked so it cannot collide with
// a table id) when the tables do not know it, or "" when the make is absent or unknown.
func resolveMake(ref Reference, s string) string {
	f := foldName(s)
	if f == "" || f == "UNKNOWN" {
		return ""
	}
	if id, ok := ref.MakeID(s); ok {
		return id
	}
	return "~" + f
}

// resolveCalibre is resolveMake for calibres.
func resolveCalibre(ref Reference, s string) string {
	f := foldName(s)
	if f == "" || f == "UNKNOWN" {
		return ""
	}
	if id, ok := ref.CalibreClass(s); ok {
		return id
	}
	return "~" + f
}

// resolveTypes returns the record types a type word may mean; the folded word itself when the
// tables do not know it.
func resolveTypes(ref Reference, s string) []string {
	f := foldName(s)
	if f == "" || f == "UNKNOWN" {
		return nil
	}
	if ids := ref.TypeIDs(s); len(ids) > 0 {
		return ids
	}
	return []string{"~" + f}
}

// foldName folds a make, model or type to upper-case ASCII letters and digits, so spellings that
// differ only by case, accents or punctuation compare equal.
func foldName(s string) string {
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		i += n
		b = foldRune(b, r, false)
	}
	return string(b)
}
