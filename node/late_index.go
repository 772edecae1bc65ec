package node

import (
	"sync"

	"github.com/fedarms/fedarms/matcher"
)

// lateIndex is the reverse index of a late window (the node's own, late.go, and a central node's
// window of handed-over searches, late_window.go): the remembered queries, found by the records
// applied later.
//
// The matcher never frees what Delete removes (its entries stay until the index is built afresh),
// so a window's index that forgot one query for each new one grew by ~700 bytes a distinct query
// for ever. This one is rebuilt from the window's live queries once it has taken half as many puts
// since its last build as the window holds (and at least lateRebuildMin): built in one run (PutMany
// and Compact) by a goroutine of its own while searches and writes go on against the old one, then
// swapped in under the window's lock with the keys put or removed meanwhile replayed. So it holds
// at most about one and a half times the window's live queries, whatever the window has seen, and
// the rebuilds cost about two entries built in one run per query put (a fraction of a Put each).
type lateIndex struct {
	ix    *matcher.Index
	built int // entries ix was built with
	put   int // entries put since ix was built
	// touched are the keys put or removed while a rebuild runs (rebuilding).
	touched    []string
	rebuilding bool
	running    sync.WaitGroup
}

// lateRebuildMin is the fewest puts between two rebuilds of a window's index.
const lateRebuildMin = 4096

func newLateIndex() *lateIndex {
	return &lateIndex{ix: matcher.New(referenceTables{}, matcher.Options{})}
}

// The methods below are called with the window's lock held.

func (x *lateIndex) Put(e matcher.Entry) {
	x.ix.Put(e)
	x.put++
	if x.rebuilding {
		x.touched = append(x.touched, e.Key)
	}
}

func (x *lateIndex) Delete(key string) {
	x.ix.Delete(key)
	if x.rebuilding {
		x.touched = append(x.touched, key)
	}
}

func (x *lateIndex) Search(q matcher.Query) []matcher.Result { return x.ix.Search(q) }

// held bounds the entries the index holds, live or removed.
func (x *lateIndex) held() int { return x.built + x.put }

// Len is the number of entries live in the index.
func (x *lateIndex) Len() int { return x.ix.Len() }

// due reports whether a rebuild should start, the window holding live entries.
func (x *lateIndex) due(live int) bool {
	return !x.rebuilding && x.put >= max(lateRebuildMin, live/2)
}

// rebuild builds an index of es (the window's live entries) on a goroutine of its own, then takes
// mu (the window's lock) and swaps it in, after putting or removing each key touched meanwhile as
// entry says (false: the key is gone).
func (x *lateIndex) rebuild(es []matcher.Entry, mu *sync.Mutex, entry func(key string) (matcher.Entry, bool)) {
	x.rebuilding = true
	x.running.Add(1)
	go func() {
		defer x.running.Done()
		ix := matcher.New(referenceTables{}, matcher.Options{})
		ix.PutMany(es)
		ix.Compact()
		mu.Lock()
		defer mu.Unlock()
		for _, k := range x.touched {
			if e, live := entry(k); live {
				ix.Put(e)
			} else {
				ix.Delete(k)
			}
		}
		x.ix, x.built, x.put, x.touched, x.rebuilding = ix, len(es), len(x.touched), nil, false
	}()
}

// wait waits for a rebuild running (tests, and a window closing).
func (x *lateIndex) wait() { x.running.Wait() }
