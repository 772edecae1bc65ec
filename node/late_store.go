package node

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/wire"
)

// How the late window holds its searches (DESIGN.md, "The late window's memory"). A remembered
// search is a fixed-size entry whose strings sit in its generation's byte arena, and the reverse
// index holds one entry per distinct query of a generation (serial, make, model, calibre and type),
// however many searches asked it. Searches are kept in generations of max/4: the newest takes
// them one by one; a full one is sealed and its index rebuilt compact (PutMany and Compact, away
// from the lock); the oldest is dropped whole once its last search is forgotten. The matcher
// never frees what Delete removes (its entries stay until the index is built afresh), so a single
// index that forgot its oldest search at each new one grew by ~700 bytes a search for ever; a
// generation's index is built once and dropped whole, so the window holds at most max + max/4
// queries' entries whatever it has seen.

// lateGenDiv is how many generations the window's bound is split into.
const lateGenDiv = 4

// lateField names a string of a remembered search in its entry.
const (
	lfID = iota
	lfAgency
	lfOnBehalfOf
	lfSerial
	lfMake
	lfModel
	lfCalibre
	lfType
	lfReqOnBehalfOf
	lfReference
	lfUncovered // the shards not held, joined by NUL
	lateFields
)

// lateEntry is one remembered search: its strings are arena[str : str+sum(lens)] in field order.
type lateEntry struct {
	at     int64 // unix nanoseconds, UTC
	str    uint32
	lens   [lateFields]uint32
	limit  int32
	urgent bool
	query  uint32 // its query's key in the generation's index
	// same is the index+1 of the generation's previous entry with the same query (0: none).
	same uint32
}

// lateGen is a generation of the window: the searches remembered between two seals.
type lateGen struct {
	first   uint64 // sequence number of entries[0]
	head    int    // entries[:head] are forgotten
	entries []lateEntry
	arena   []byte
	// ix indexes the generation's distinct queries (key: the query's number); newest names, per
	// query, the index+1 of its newest entry.
	ix     *matcher.Index
	newest []uint32
	// queries finds a query's number while the generation takes searches (nil once sealed).
	queries map[string]uint32
	sealed  bool
}

func newLateGen(first uint64) *lateGen {
	return &lateGen{first: first, ix: matcher.New(referenceTables{}, matcher.Options{}), queries: map[string]uint32{}}
}

// field returns string f of entry e.
func (g *lateGen) field(e *lateEntry, f int) string {
	off := e.str
	for i := 0; i < f; i++ {
		off += e.lens[i]
	}
	return string(g.arena[off : off+e.lens[f]])
}

func (g *lateGen) search(e *lateEntry) rememberedSearch {
	s := rememberedSearch{ID: g.field(e, lfID), At: time.Unix(0, e.at).UTC(), Agency: g.field(e, lfAgency),
		OnBehalfOf: g.field(e, lfOnBehalfOf),
		Req: wire.SearchRequest{Serial: g.field(e, lfSerial), Make: g.field(e, lfMake), Model: g.field(e, lfModel),
			Calibre: g.field(e, lfCalibre), Type: g.field(e, lfType), OnBehalfOf: g.field(e, lfReqOnBehalfOf),
			Reference: g.field(e, lfReference), Limit: int(e.limit), Urgent: e.urgent}}
	if u := g.field(e, lfUncovered); u != "" {
		s.Uncovered = strings.Split(u, "\x00")
	}
	return s
}

// queryEntry is the index entry of query number q, whose fields entry e holds.
func (g *lateGen) queryEntry(q uint32, e *lateEntry) matcher.Entry {
	return matcher.Entry{Key: strconv.FormatUint(uint64(q), 36), Serial: g.field(e, lfSerial), Make: g.field(e, lfMake),
		Model: g.field(e, lfModel), Calibre: g.field(e, lfCalibre), Type: g.field(e, lfType)}
}

// add appends s; the caller holds the window's lock.
func (g *lateGen) add(s *rememberedSearch) {
	fields := [lateFields]string{s.ID, s.Agency, s.OnBehalfOf, s.Req.Serial, s.Req.Make, s.Req.Model, s.Req.Calibre,
		s.Req.Type, s.Req.OnBehalfOf, s.Req.Reference, strings.Join(s.Uncovered, "\x00")}
	e := lateEntry{at: s.At.UnixNano(), str: uint32(len(g.arena)), limit: int32(s.Req.Limit), urgent: s.Req.Urgent}
	for i, f := range fields {
		e.lens[i] = uint32(len(f))
		g.arena = append(g.arena, f...)
	}
	key := strings.Join(fields[lfSerial:lfType+1], "\x00")
	q, known := g.queries[key]
	if !known {
		q = uint32(len(g.newest))
		g.queries[key] = q
		g.newest = append(g.newest, 0)
	} else {
		e.same = g.newest[q]
	}
	e.query = q
	g.entries = append(g.entries, e)
	g.newest[q] = uint32(len(g.entries))
	if !known {
		g.ix.Put(g.queryEntry(q, &g.entries[len(g.entries)-1]))
	}
}

// compacted builds the sealed generation's index afresh, in one run. It reads only what a sealed
// generation never changes (entries' strings and queries), so it runs without the window's lock.
func (g *lateGen) compacted() *matcher.Index {
	es := make([]matcher.Entry, len(g.newest))
	for q, idx := range g.newest {
		es[q] = g.queryEntry(uint32(q), &g.entries[idx-1])
	}
	ix := matcher.New(referenceTables{}, matcher.Options{})
	ix.PutMany(es)
	ix.Compact()
	return ix
}

// searchKey packs a search id as the node makes them ("s-" and 24 hex digits) into 12 bytes; other
// ids are kept as strings.
func searchKey(id string) (k [12]byte, ok bool) {
	if len(id) != 26 || id[:2] != "s-" {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(id[2:])); err != nil || hex.EncodeToString(k[:]) != id[2:] {
		return k, false
	}
	return k, true
}
