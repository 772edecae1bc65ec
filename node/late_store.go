package node

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/wire"
)

// How the late window holds its searches (DESIGN.md, "The late window's memory").
//
// A remembered search is a fixed-size entry whose strings sit in its chunk's byte arena; chunks of
// lateChunkSize searches are dropped whole once their last search is forgotten. The reverse index
// holds one entry per distinct query (serial, make, model, calibre and type joined by NUL, which
// no search field may hold: the key itself), with the number of remembered searches that asked it
// and the newest of them; the searches of a query are chained newest first.
//
// The index is a lateIndex (late_index.go): rebuilt from the live queries, so what it holds is
// bounded by the window's size, not by how many searches the window has seen.

// lateChunkSize is how many searches a chunk of the window takes.
const lateChunkSize = 4096

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
	// same is the sequence number+1 of the previous search of the same query (0: none).
	same uint64
}

// lateChunk holds the searches remembered with sequence numbers first to first+len(entries)-1.
type lateChunk struct {
	first   uint64
	head    int // entries[:head] are forgotten
	entries []lateEntry
	arena   []byte
}

// lateQuery is a distinct query of the window.
type lateQuery struct {
	newest uint64 // sequence number+1 of its newest search
	refs   uint32 // its searches remembered
}

// field returns string f of entry e.
func (c *lateChunk) field(e *lateEntry, f int) string {
	off := e.str
	for i := 0; i < f; i++ {
		off += e.lens[i]
	}
	return string(c.arena[off : off+e.lens[f]])
}

func (c *lateChunk) search(e *lateEntry) rememberedSearch {
	s := rememberedSearch{ID: c.field(e, lfID), At: time.Unix(0, e.at).UTC(), Agency: c.field(e, lfAgency),
		OnBehalfOf: c.field(e, lfOnBehalfOf),
		Req: wire.SearchRequest{Serial: c.field(e, lfSerial), Make: c.field(e, lfMake), Model: c.field(e, lfModel),
			Calibre: c.field(e, lfCalibre), Type: c.field(e, lfType), OnBehalfOf: c.field(e, lfReqOnBehalfOf),
			Reference: c.field(e, lfReference), Limit: int(e.limit), Urgent: e.urgent}}
	if u := c.field(e, lfUncovered); u != "" {
		s.Uncovered = strings.Split(u, "\x00")
	}
	return s
}

// queryKey is the window's key of a search's query.
func queryKey(r *wire.SearchRequest) string {
	return r.Serial + "\x00" + r.Make + "\x00" + r.Model + "\x00" + r.Calibre + "\x00" + r.Type
}

// chunkQueryKey is queryKey of entry e.
func (c *lateChunk) queryKey(e *lateEntry) string {
	off := e.str
	for i := 0; i < lfSerial; i++ {
		off += e.lens[i]
	}
	end := off
	for i := lfSerial; i <= lfType; i++ {
		end += e.lens[i]
	}
	b := make([]byte, 0, end-off+4)
	for i := lfSerial; i <= lfType; i++ {
		if i > lfSerial {
			b = append(b, 0)
		}
		b = append(b, c.arena[off:off+e.lens[i]]...)
		off += e.lens[i]
	}
	return string(b)
}

// queryEntry is the index entry of a query.
func queryEntry(key string) matcher.Entry {
	f := strings.SplitN(key, "\x00", 5)
	for len(f) < 5 {
		f = append(f, "")
	}
	return matcher.Entry{Key: key, Serial: f[0], Make: f[1], Model: f[2], Calibre: f[3], Type: f[4]}
}

// add appends s as search seq; the caller holds the window's lock.
func (c *lateChunk) add(s *rememberedSearch, same uint64) {
	fields := [lateFields]string{s.ID, s.Agency, s.OnBehalfOf, s.Req.Serial, s.Req.Make, s.Req.Model, s.Req.Calibre,
		s.Req.Type, s.Req.OnBehalfOf, s.Req.Reference, strings.Join(s.Uncovered, "\x00")}
	e := lateEntry{at: s.At.UnixNano(), str: uint32(len(c.arena)), limit: int32(s.Req.Limit), urgent: s.Req.Urgent, same: same}
	for i, f := range fields {
		e.lens[i] = uint32(len(f))
		c.arena = append(c.arena, f...)
	}
	c.entries = append(c.entries, e)
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
