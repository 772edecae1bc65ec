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
	keyAddr uint32 // in recordTable.keys
	keyLen  uint16 // 0 for a free slot
	keyCap  uint16 // bytes reserved at keyAddr: a reused slot keeps its key's space
	first   uint32 // first serial id of the record's chain (serialRec.nextInR), noSerial if none
	group   uint8  // Entry.Group
}

// recordTable holds one row per slot; slots of deleted records are reused, with their key bytes
// when the new key fits. Rows and keys live in pages (paged.go) and keys are found through
// hashRows, so the table is pointer-free and no Put ever copies or rehashes all of it.
type recordTable struct {
	rec   paged[slotRec]
	keys  arena
	index hashRows
	live  int
	free  []uint32

	makes, spellings, calibres, models, types interner
	cache                                     attrCache
}

func (t *recordTable) init() {
	t.index.init()
	for _, in := range []*interner{&t.makes, &t.spellings, &t.calibres, &t.models, &t.types} {
		in.init()
	}
	t.cache.init()
}

// key returns the key of slot, aliasing the arena.
func (t *recordTable) key(slot uint32) []byte {
	r := t.rec.at(slot)
	return t.keys.get(r.keyAddr, int(r.keyLen))
}

// lookup returns the slot of key.
func (t *recordTable) lookup(key string) (uint32, bool) {
	key = key[:min(len(key), maxArenaString-1)]
	return t.index.find([]byte(key), hash64String(key), t.key)
}

// add stores e in a free slot and returns it; its serials are linked by the caller. The key must
// not be present.
func (t *recordTable) add(e *Entry, ref Reference) uint32 {
	key := e.Key[:min(len(e.Key), maxArenaString-1)]
	r := slotRec{attrs: t.cache.resolve(t, ref, e), keyLen: uint16(len(key)), first: noSerial, group: e.Group}
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
		old := t.rec.at(slot)
		if int(old.keyCap) >= len(key) {
			r.keyAddr, r.keyCap = old.keyAddr, old.keyCap
			copy(t.keys.get(r.keyAddr, len(key)), key)
		}
	} else {
		slot = t.rec.push(slotRec{})
	}
	if r.keyCap == 0 && len(key) > 0 {
		r.keyAddr, r.keyCap = arenaAdd(&t.keys, key), uint16(len(key))
	}
	*t.rec.at(slot) = r
	t.index.insert([]byte(key), hash64String(key), slot)
	t.live++
	return slot
}

// setAttrs replaces the attributes and group of the record in slot (a Put whose serials did not
// change).
func (t *recordTable) setAttrs(slot uint32, e *Entry, ref Reference) {
	r := t.rec.at(slot)
	r.attrs, r.group = t.cache.resolve(t, ref, e), e.Group
}

// remove frees slot; the serial ids were unlinked by the caller. The key bytes stay reserved for
// the slot's next record.
func (t *recordTable) remove(slot uint32) {
	key := t.key(slot)
	t.index.remove(key, hash64(key), slot)
	r := t.rec.at(slot)
	*r = slotRec{keyAddr: r.keyAddr, keyCap: r.keyCap, first: noSerial}
	t.free = append(t.free, slot)
	t.live--
}

// attrCache remembers how the raw spellings of makes, calibres, models and types resolved, so a
// Put of a record whose fields were seen before (nearly all of them: a few hundred makes and
// calibres, a few thousand models) costs a map lookup per field instead of folding and asking
// the reference tables. It is bounded: past maxCached spellings a field is resolved each time.
type attrCache struct {
	makes    map[string][2]uint32 // make, spelling
	calibres map[string][2]uint32 // calibre, calSpell
	models   map[string]uint32
	types    map[string]uint32
}

const maxCached = 1 << 14

func (c *attrCache) init() {
	c.makes = map[string][2]uint32{}
	c.calibres = map[string][2]uint32{}
	c.models = map[string]uint32{}
	c.types = map[string]uint32{}
}

// resolve returns e's attributes, interning new values in t.
func (c *attrCache) resolve(t *recordTable, ref Reference, e *Entry) attrs {
	var a attrs
	a.make, a.spelling = c.name(c.makes, t, &t.makes, e.Make, ref.MakeID)
	a.calibre, a.calSpell = c.name(c.calibres, t, &t.calibres, e.Calibre, ref.CalibreClass)
	if v, ok := c.models[e.Model]; ok {
		a.model = v
	} else {
		a.model = t.models.intern(foldName(e.Model))
		if len(c.models) < maxCached {
			c.models[e.Model] = a.model
		}
	}
	if v, ok := c.types[e.Type]; ok {
		a.types = v
	} else {
		for _, ty := range resolveTypes(ref, e.Type) {
			a.types |= typeBit(t.types.intern(ty))
		}
		if len(c.types) < maxCached {
			c.types[e.Type] = a.types
		}
	}
	return a
}

// name resolves a make or calibre (lookup is ref.MakeID or ref.CalibreClass) through cache to its
// id in ids and its folded spelling's id, interning new values.
func (c *attrCache) name(cache map[string][2]uint32, t *recordTable, ids *interner, s string,
	lookup func(string) (string, bool)) (id, spelling uint32) {
	if v, ok := cache[s]; ok {
		return v[0], v[1]
	}
	name, folded := resolveName(s, lookup)
	spelling = t.spellings.intern(folded)
	if name != "" {
		id = ids.intern(name)
	}
	if len(cache) < maxCached {
		cache[s] = [2]uint32{id, spelling}
	}
	return id, spelling
}

// typeBit maps an interned type id to its bit; ids past 31 share the last bit, which only makes
// rare extra type words compare as compatible.
func typeBit(id uint32) uint32 {
	if id == none {
		return 0
	}
	return 1 << min(id-1, 31)
}

// resolveName returns the table id lookup gives a make or calibre (ref.MakeID, ref.CalibreClass),
// the folded spelling marked "~" (so it cannot collide with a table id) when the tables do not know
// it, or "" when it is absent or unknown; and the folded spelling, which callers need too.
func resolveName(s string, lookup func(string) (string, bool)) (id, folded string) {
	f := foldName(s)
	if f == "" || f == "UNKNOWN" {
		return "", f
	}
	if id, ok := lookup(s); ok {
		return id, f
	}
	return "~" + f, f
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
