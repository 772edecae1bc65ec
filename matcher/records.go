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

// recordTable holds one row per slot; slots of deleted records are reused.
type recordTable struct {
	bySlotKey map[string]uint32
	keys      []string
	attrs     []attrs
	first     []uint32 // first serial id of the slot's chain (serialTable.next), noSerial if none
	free      []uint32

	makes, spellings, calibres, models, types interner
}

func (t *recordTable) init() {
	t.bySlotKey = make(map[string]uint32)
	for _, in := range []*interner{&t.makes, &t.spellings, &t.calibres, &t.models, &t.types} {
		in.init()
	}
}

// add stores e in a free slot and returns it; its serials are linked by the caller.
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
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
		t.keys[slot], t.attrs[slot], t.first[slot] = e.Key, a, noSerial
	} else {
		slot = uint32(len(t.keys))
		t.keys = append(t.keys, e.Key)
		t.attrs = append(t.attrs, a)
		t.first = append(t.first, noSerial)
	}
	t.bySlotKey[e.Key] = slot
	return slot
}

// remove frees slot; the serial ids were unlinked by the caller.
func (t *recordTable) remove(slot uint32) {
	delete(t.bySlotKey, t.keys[slot])
	t.keys[slot], t.attrs[slot], t.first[slot] = "", attrs{}, noSerial
	t.free = append(t.free, slot)
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
