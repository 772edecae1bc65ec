package matcher

// Entry is what the matcher knows of one record.
type Entry struct {
	Key                        string // record id
	Serial                     string
	OtherSerials               []string
	Make, Model, Calibre, Type string
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
	del    multimap    // deletion variants of skeletons -> groups (edit tier)
	aux    multimap    // embedded-letter and token-dropped forms -> serials (see aux.go)
	fwd    trie        // skeletons, for patterns with '*'
	rev    trie        // reversed skeletons, for patterns that start with '*'
	bulk   bool        // PutMany in progress: fuzzy structures are rebuilt at the end
}

// New returns an empty index that resolves makes, calibres and types through ref (which may be
// nil: then only the spellings themselves are compared).
func New(ref Reference, opts Options) *Index {
	if ref == nil {
		ref = noReference{}
	}
	ix := &Index{ref: ref, opts: opts.withDefaults()}
	ix.recs.init()
	ix.groups.init()
	ix.fwd.init()
	ix.rev.init()
	return ix
}

// Options returns the options in force, defaults filled in.
func (ix *Index) Options() Options { return ix.opts }

// Len returns the number of records in the index.
func (ix *Index) Len() int { return ix.recs.live }

// Put adds e, or replaces the record with the same Key. It costs a few microseconds, except that
// every so often (after about an eighth of the index has been added since the last bulk build) it
// rebuilds the edit tier, which takes about as long as PutMany of the whole index.
func (ix *Index) Put(e Entry) {
	ix.put(e)
	if !ix.bulk && ix.del.extraN+ix.aux.extraN > max(1<<20, (len(ix.del.ent)+len(ix.aux.ent))/8) {
		ix.rebuild()
	}
}

func (ix *Index) put(e Entry) {
	if slot, ok := ix.recs.lookup(e.Key); ok {
		ix.remove(slot)
	}
	slot := ix.recs.add(e, ix.ref)
	ix.addSerial(slot, e.Serial, false)
	for _, s := range e.OtherSerials {
		ix.addSerial(slot, s, true)
	}
}

// PutMany adds or replaces every entry, as Put would one by one, but builds the fuzzy structures
// once at the end when the batch is large: this is how a restarted node loads its records.
func (ix *Index) PutMany(es []Entry) {
	if len(es) < max(1024, ix.Len()/8) {
		for i := range es {
			ix.Put(es[i])
		}
		return
	}
	ix.bulk = true
	for i := range es {
		ix.put(es[i])
	}
	ix.bulk = false
	ix.rebuild()
}

// Delete removes the record with the given key; deleting an absent key does nothing.
func (ix *Index) Delete(key string) {
	if slot, ok := ix.recs.lookup(key); ok {
		ix.remove(slot)
	}
}

// addSerial normalises one serial of the record in slot and links it into its group, creating and
// indexing the group when its skeleton is new. Serials that normalise to nothing (no letter or
// digit) cannot be matched and are skipped.
func (ix *Index) addSerial(slot uint32, raw string, other bool) {
	var buf [maxSerialLen]byte
	norm := normalize(buf[:0], raw, false)
	if len(norm) == 0 {
		return
	}
	norm = norm[:min(len(norm), maxSerialLen)]
	var sbuf [maxSerialLen]byte
	skel := appendSkeleton(sbuf[:0], norm)
	id := ix.ser.add(slot, norm, other)
	ix.ser.rec[id].nextInR = ix.recs.rec[slot].first
	ix.recs.rec[slot].first = id
	g, created := ix.groups.intern(skel)
	old := ix.groups.rec[g].tag
	ix.groups.rec[g].tag = joinTag(old, makeTag(ix.recs.rec[slot].make))
	grew := !created && ix.groups.rec[g].tag != old
	ix.ser.rec[id].group = g
	ix.ser.rec[id].nextInG = ix.groups.rec[g].head
	ix.groups.rec[g].head = id
	ix.groups.rec[g].live++
	if ix.bulk {
		return
	}
	if created {
		ix.indexGroup(g)
	} else if grew {
		ix.retagGroup(g)
	}
	var keys [8]uint32
	ix.aux.add(id, appendAuxKeys(keys[:0], norm), nil)
}

// indexGroup enters a new group in the fuzzy structures.
func (ix *Index) indexGroup(g uint32) {
	skel := ix.groups.skel(g)
	var keys [512]uint32
	var meta [512]uint8
	k, m := deletionKeys(keys[:0], meta[:0], skel, ix.groups.rec[g].tag)
	ix.del.add(g, k, m)
	if len(skel) <= maxFuzzyLen {
		ix.fwd.group[ix.fwd.insert(skel)] = g
		var rb [maxFuzzyLen]byte
		ix.rev.group[ix.rev.insert(appendReversed(rb[:0], skel))] = g
	}
}

// retagGroup spreads group g's new make tag (anyMake: OR-ing it in sets every bit) to its
// deletion-index entries.
func (ix *Index) retagGroup(g uint32) {
	if len(ix.groups.skel(g)) > maxDeletionLen {
		return
	}
	var keys [512]uint32
	k := appendVariants(keys[:0], ix.groups.skel(g), maxDeletions)
	for _, h := range k {
		ix.del.orMeta(h, g, ix.groups.rec[g].tag)
	}
}

// remove takes the record in slot out of its groups and frees the slot. Emptied groups stay in the
// fuzzy structures (searches skip them) until the next rebuild.
func (ix *Index) remove(slot uint32) {
	for id := ix.recs.rec[slot].first; id != noSerial; {
		next := ix.ser.rec[id].nextInR
		g := ix.ser.rec[id].group
		if ix.groups.rec[g].head == id {
			ix.groups.rec[g].head = ix.ser.rec[id].nextInG
		} else {
			p := ix.groups.rec[g].head
			for ix.ser.rec[p].nextInG != id {
				p = ix.ser.rec[p].nextInG
			}
			ix.ser.rec[p].nextInG = ix.ser.rec[id].nextInG
		}
		ix.groups.rec[g].live--
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
