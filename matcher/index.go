package matcher

// Entry is what the matcher knows of one record.
type Entry struct {
	Key                        string // record id
	Serial                     string
	OtherSerials               []string
	Make, Model, Calibre, Type string
	// Group is the caller's, returned with the record's results: a small number the caller files
	// the record under (the node: which shard holds it), so it can fetch the record directly.
	Group uint8
}

// Reference is what the matcher needs from the reference tables. Implementations must be safe for
// concurrent reads, since Search calls them from many goroutines.
type Reference interface {
	MakeID(s string) (id string, ok bool)       // canonical make for any alias or spelling
	CalibreClass(s string) (id string, ok bool) // equivalence class of a calibre spelling
	CalibresClose(a, b string) bool             // two class ids related but distinct (5.56x45 vs .223)
	TypeIDs(s string) []string                  // record types a type word may mean
}

// Default thresholds, chosen on the evaluation suite (see DESIGN.md).
const (
	DefaultHitThreshold    = 0.85
	DefaultReviewThreshold = 0.60
	DefaultLimit           = 10
	// MaxLimit bounds Query.Limit so one search cannot ask for the whole index.
	MaxLimit = 1000
)

// Options tune an Index; zero values take the defaults.
type Options struct {
	HitThreshold    float64 // score at or above which a result is a HIT; default 0.85
	ReviewThreshold float64 // score at or above which a result deserves review; default 0.60
}

func (o Options) withDefaults() Options {
	if o.HitThreshold <= 0 || o.HitThreshold > 1 {
		o.HitThreshold = DefaultHitThreshold
	}
	if o.ReviewThreshold <= 0 || o.ReviewThreshold > o.HitThreshold {
		o.ReviewThreshold = min(DefaultReviewThreshold, o.HitThreshold)
	}
	return o
}

// Index holds every record's serials and descriptive fields for matching. The zero value is not
// usable; call New. See the package comment for the concurrency contract.
type Index struct {
	ref  Reference
	opts Options

	recs   recordTable // records by slot, with their interned attributes
	ser    serialTable // every serial and other serial, normalised
	groups groupTable  // distinct skeletons, each with its serials
	del    hashIndex   // deletion variants of skeletons -> make tag and group (edit tier)
	aux    hashIndex   // embedded-letter and token-dropped forms -> serials (see aux.go)
	fwd    skelIndex   // groups in skeleton order, for patterns with '*'
	rev    skelIndex   // groups in reversed-skeleton order, for patterns that start with '*'

	// multi holds, for each group whose serials carry several make tags, the set of tags its
	// deletion entries were entered under (bit t for tag t); see claimTag.
	multi map[uint32]uint64

	// queryNames remembers what queries' makes, calibres, types and models resolved to (see
	// resolveQuery); safe for concurrent Searches.
	queryNames queryNameCache

	// noPosFilter turns the first edit pass's position filter off (editTier), for the test that
	// compares answers with and without it.
	noPosFilter bool
	// noTagFilter turns off the make tag check of the deletion index's bucket scan (probe), for
	// the test that compares answers with and without it.
	noTagFilter bool

	// bulk is set while PutMany defers the fuzzy indexes' entries to flush; pending lists the
	// groups to enter (group<<8 | first<<7 | tag) and pendingAux the auxiliary entries.
	bulk       bool
	pending    []uint64
	pendingN   int
	pendingAux []uint64
}

// New returns an empty index that resolves makes, calibres and types through ref (which may be
// nil: then only the spellings themselves are compared).
func New(ref Reference, opts Options) *Index {
	if ref == nil {
		ref = noReference{}
	}
	ix := &Index{ref: ref, opts: opts.withDefaults(), multi: map[uint32]uint64{}}
	ix.recs.init()
	ix.groups.init()
	ix.del.init(true, true)
	ix.aux.init(false, false)
	ix.fwd.init()
	ix.rev.init()
	return ix
}

// Options returns the options in force, defaults filled in.
func (ix *Index) Options() Options { return ix.opts }

// Len returns the number of records in the index.
func (ix *Index) Len() int { return ix.recs.live }

// Put adds e, or replaces the record with the same Key. It costs a few microseconds, the same at
// any index size: the fuzzy indexes take its entries in small buffers and merge their runs a
// bounded amount per write (see tiers), so no Put ever pays for a rebuild.
func (ix *Index) Put(e Entry) {
	ix.put(&e)
	ix.settle()
}

// settle advances the fuzzy indexes' merges by what the last write added to them.
func (ix *Index) settle() {
	ix.del.settle()
	ix.aux.settle()
	ix.fwd.settle()
	ix.rev.settle()
}

// put adds or replaces one record; with ix.bulk its fuzzy entries wait for flush.
func (ix *Index) put(e *Entry) {
	if slot, ok := ix.recs.lookup(e.Key); ok {
		if ix.sameSerials(slot, e) {
			ix.recs.setAttrs(slot, e, ix.ref)
			return
		}
		ix.remove(slot)
	}
	slot := ix.recs.add(e, ix.ref)
	tag := makeTag(ix.recs.rec.at(slot).make)
	ix.addSerial(slot, e.Serial, false, tag)
	for _, s := range e.OtherSerials {
		ix.addSerial(slot, s, true, tag)
	}
}

// Delete removes the record with the given key; deleting an absent key does nothing.
func (ix *Index) Delete(key string) {
	if slot, ok := ix.recs.lookup(key); ok {
		ix.remove(slot)
	}
}

// sameSerials reports whether e carries exactly the serials the record in slot has, under the
// same make tag: then a Put only replaces its attributes (records are rewritten far more often
// than their serials change).
func (ix *Index) sameSerials(slot uint32, e *Entry) bool {
	a := ix.recs.cache.resolve(&ix.recs, ix.ref, e)
	tag := makeTag(a.make)
	// The chain holds the serials newest first: other serials in reverse, then the frame's.
	id := ix.recs.rec.at(slot).first
	var buf [maxSerialLen]byte
	for i := len(e.OtherSerials); i >= 0; i-- {
		raw, other := e.Serial, false
		if i > 0 {
			raw, other = e.OtherSerials[i-1], true
		}
		norm := normalize(buf[:0], raw, false)
		if len(norm) == 0 {
			continue
		}
		norm = norm[:min(len(norm), maxSerialLen)]
		if id == noSerial {
			return false
		}
		r := ix.ser.rec.at(id)
		if r.tag != tag || r.other != other || string(ix.ser.norm(id)) != string(norm) {
			return false
		}
		id = r.nextInR
	}
	return id == noSerial
}

// addSerial normalises one serial of the record in slot and links it into its group, creating and
// indexing the group when its skeleton is new. Serials that normalise to nothing (no letter or
// digit) cannot be matched and are skipped.
func (ix *Index) addSerial(slot uint32, raw string, other bool, tag uint8) {
	var buf [maxSerialLen]byte
	norm := normalize(buf[:0], raw, false)
	if len(norm) == 0 {
		return
	}
	norm = norm[:min(len(norm), maxSerialLen)]
	var sbuf [maxSerialLen]byte
	skel := appendSkeleton(sbuf[:0], norm)
	id := ix.ser.add(slot, norm, other, tag)
	sr := ix.ser.rec.at(id)
	rr := ix.recs.rec.at(slot)
	sr.nextInR = rr.first
	rr.first = id
	g, _ := ix.groups.intern(skel)
	gr := ix.groups.rec.at(g)
	gr.tag = joinTag(gr.tag, tag)
	sr.group = g
	sr.nextInG = gr.head
	gr.head = id
	gr.live++
	var keys [8]uint32
	aux := appendAuxKeys(keys[:0], norm, raw)
	enter, first := ix.claimTag(g, tag)
	if ix.bulk {
		if enter {
			p := uint64(g)<<8 | uint64(tag)
			if first {
				p |= 128
			}
			ix.pending = append(ix.pending, p)
			ix.pendingN += 2 * len(skel) * len(skel) / 3
		}
		for _, k := range aux {
			ix.pendingAux = append(ix.pendingAux, uint64(k)<<32|uint64(id))
		}
		return
	}
	if enter {
		ix.indexGroup(g, tag, first)
	}
	for _, k := range aux {
		ix.aux.add(k, id, 0)
	}
}

// claimTag records that group g holds a serial whose record has make tag t, and reports whether
// the deletion index must take g's entries under t, and whether g is new to the fuzzy indexes.
// A group is entered once under every make tag its serials carry (a short serial that several
// makers use is found under each make, so a query naming a make skips the others without
// touching them), or once under anyMake, which every query takes, when a record has no make.
func (ix *Index) claimTag(g uint32, t uint8) (enter, first bool) {
	r := ix.groups.rec.at(g)
	switch r.itag {
	case noTag:
		r.itag = t
		return true, true
	case t, anyMake:
		return false, false
	case multiTags:
		set := ix.multi[g]
		if set&(1<<anyMake|1<<t) != 0 {
			return false, false
		}
		ix.multi[g] = set | 1<<t
		return true, false
	}
	ix.multi[g] = 1<<r.itag | 1<<t
	r.itag = multiTags
	return true, false
}

// indexGroup enters group g in the deletion index under make tag tag, and in the wildcard
// indexes when it is new to them.
func (ix *Index) indexGroup(g uint32, tag uint8, first bool) {
	skel := ix.groups.skel(g)
	var buf [maxVariants]uint64
	var pbuf [maxVariants]uint8
	ents, pos := appendDeletionEntries(buf[:0], pbuf[:0], skel, g, tag)
	for i, e := range ents {
		ix.del.add(uint32(e>>32), uint32(e), pos[i])
	}
	if first {
		ix.fwd.add(skel, g)
		var rb [maxSerialLen]byte
		ix.rev.add(appendReversed(rb[:0], skel), g)
	}
}

// remove takes the record in slot out of its groups and frees the slot. Emptied groups stay in
// the fuzzy indexes (searches skip them) and are revived when their skeleton comes back.
func (ix *Index) remove(slot uint32) {
	for id := ix.recs.rec.at(slot).first; id != noSerial; {
		sr := ix.ser.rec.at(id)
		next := sr.nextInR
		g := sr.group
		gr := ix.groups.rec.at(g)
		if gr.head == id {
			gr.head = sr.nextInG
		} else {
			p := gr.head
			for ix.ser.rec.at(p).nextInG != id {
				p = ix.ser.rec.at(p).nextInG
			}
			ix.ser.rec.at(p).nextInG = sr.nextInG
		}
		gr.live--
		ix.ser.remove(id)
		id = next
	}
	ix.recs.remove(slot)
}

// appendReversed appends s reversed to dst.
func appendReversed(dst, s []byte) []byte {
	for i := len(s) - 1; i >= 0; i-- {
		dst = append(dst, s[i])
	}
	return dst
}

// noReference resolves nothing, so only literal spellings compare equal.
type noReference struct{}

func (noReference) MakeID(string) (string, bool)       { return "", false }
func (noReference) CalibreClass(string) (string, bool) { return "", false }
func (noReference) CalibresClose(string, string) bool  { return false }
func (noReference) TypeIDs(string) []string            { return nil }
