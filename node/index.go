package node

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/replication"
)

// tuneRaft shortens raft's timeouts: every group on a node of this version has one voter, so there
// is no peer whose silence needs a long grace period, and a restart is ready sooner.
func tuneRaft(c *raft.Config) {
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// liveIndex is the node's match index over every held shard, kept current by the shards' FSMs
// (it is their replication.Observer).
//
// The FSMs hand applied changes to a queue and go on; one worker goroutine applies them to the index
// in apply order. So the index update of one batch overlaps the storage writes of the next, and a
// write that must be searchable before it is acknowledged waits with caughtUp. The worker holds mu
// exclusively for at most indexChunk changes at a time, so a large import never stalls searches
// (which hold mu shared) for long.
//
// Lock order: prog before nothing; mu before review's. prog and mu are never held together.
type liveIndex struct {
	log   *slog.Logger
	clock clock.Clock  // times a rebuild for the log
	mu    sync.RWMutex // guards ix
	ix    *matcher.Index
	// groups is set once by load, for rebuilding after a snapshot restore.
	groups map[string]shardCopy
	// shards names the shard each record was filed under (matcher.Entry.Group, from 1; 0 is
	// unknown), so a search fetches each result from its own shard. Guarded by mu; numbers are
	// handed out as shards are first seen and never reused.
	shards []string

	// review files the records by review date (retention_index.go), kept by the worker with ix.
	review *reviewIndex

	// huge backs the index's memory with huge pages after it is built or compacted (nil: never).
	huge *hugePager

	// onApplied, when set, is called by the worker with each batch of changes once they are
	// searchable (outside the lock); the node re-checks recent searches with it.
	onApplied func([]replication.Change)

	work    chan indexWork
	stopped chan struct{}
	prog    sync.Mutex // guards queued, done
	cond    *sync.Cond // signalled (with prog) when done advances
	queued  uint64     // sequence number of the last work queued
	done    uint64     // sequence number of the last work applied to ix
}

// indexChunk bounds the changes applied under one exclusive hold of mu.
const indexChunk = 256

type indexWork struct {
	seq     uint64
	shard   string
	changes []replication.Change
	rebuild bool // reload everything from the state files (after a snapshot restore)
}

func newLiveIndex(log *slog.Logger, c clock.Clock) *liveIndex {
	li := &liveIndex{log: log, clock: c, ix: matcher.New(referenceTables{}, matcher.Options{}),
		review: newReviewIndex(), work: make(chan indexWork, 64), stopped: make(chan struct{})}
	li.cond = sync.NewCond(&li.prog)
	go li.run()
	return li
}

// enqueue queues work (blocking while the queue is full: back-pressure on the FSM).
func (li *liveIndex) enqueue(w indexWork) {
	li.prog.Lock()
	li.queued++
	w.seq = li.queued
	li.prog.Unlock()
	li.work <- w
}

func (li *liveIndex) run() {
	defer close(li.stopped)
	for w := range li.work {
		if w.rebuild {
			t0 := li.clock.Now()
			if err := li.load(li.groups); err != nil {
				li.log.Error("rebuilding index after restore failed", "shard", w.shard, "error", err)
			} else {
				li.log.Info("index rebuilt after restore", "shard", w.shard, "took", li.clock.Now().Sub(t0))
			}
		}
		for start := 0; start < len(w.changes); start += indexChunk {
			li.apply(w.shard, w.changes[start:min(start+indexChunk, len(w.changes))])
		}
		li.review.apply(w.changes)
		if li.onApplied != nil && len(w.changes) > 0 {
			li.onApplied(w.changes)
		}
		li.compactIfDue()
		li.prog.Lock()
		li.done = w.seq
		li.cond.Broadcast()
		li.prog.Unlock()
	}
}

// apply files shard's changes in the index. Ids are unique across the federation (ids.go), but
// two shard leaders racing can still let one id into two shards; the index, keyed by id, then keeps
// the record filed first: a change of the same id from another shard neither replaces nor deletes
// it (that would hide the first owner's record from search). When the first is deleted, the other
// shard's record of that id is filed in its place.
func (li *liveIndex) apply(shard string, changes []replication.Change) {
	li.mu.Lock()
	defer li.mu.Unlock()
	g := li.shardNo(shard)
	for _, c := range changes {
		if filed, ok := li.ix.GroupOf(c.ID); ok && g != 0 && filed != 0 && filed != g {
			li.log.Warn("record id in two shards: the index keeps the record filed first",
				"id", c.ID, "filed_in", li.shardName(filed), "change_from", shard, "delete", c.New == nil)
			continue
		}
		if c.New == nil {
			li.ix.Delete(c.ID)
			li.refile(c.ID, shard)
		} else {
			li.ix.Put(entryOf(c.New, g))
		}
	}
}

// refile files a record of id that another held shard has, once the one from shard is deleted: it
// was left out while both were there. Call with mu held for writing.
func (li *liveIndex) refile(id, shard string) {
	for s, grp := range li.groups {
		if s == shard {
			continue
		}
		r, ok, err := grp.State().Get(id)
		if err != nil || !ok {
			continue
		}
		li.ix.Put(entryOf(&r, li.shardNo(s)))
		li.log.Warn("record id in two shards: filed the other one", "id", id, "deleted_in", shard, "filed_in", s)
		return
	}
}

// shardName is the shard filed under number g ("" for 0 or an unknown number). Call with mu held.
func (li *liveIndex) shardName(g uint8) string {
	if g == 0 || int(g) > len(li.shards) {
		return ""
	}
	return li.shards[g-1]
}

// shardNo returns the number records of shard are filed under, handing out the next one the first
// time; 0 (unknown: every held shard is read) once 255 are taken. Call with mu held for writing.
func (li *liveIndex) shardNo(shard string) uint8 {
	for i, s := range li.shards {
		if s == shard {
			return uint8(i + 1)
		}
	}
	if len(li.shards) == 255 {
		return 0
	}
	li.shards = append(li.shards, shard)
	return uint8(len(li.shards))
}

// compactIfDue merges the index's runs when writes have left many: the new generation is built under
// the read lock (searches go on) and installed under a short write lock. Only the worker writes, so
// nothing else changes the index in between except what the matcher tracks itself.
func (li *liveIndex) compactIfDue() {
	li.mu.RLock()
	due := li.ix.NeedsCompaction()
	var c *matcher.Compaction
	if due {
		c = li.ix.PrepareCompaction()
	}
	li.mu.RUnlock()
	if !due {
		return
	}
	li.mu.Lock()
	li.ix.InstallCompaction(c)
	li.mu.Unlock()
	li.huge.soon("compaction")
}

// caughtUp waits until every change applied to the states so far is in the index.
func (li *liveIndex) caughtUp() {
	li.prog.Lock()
	defer li.prog.Unlock()
	target := li.queued
	for li.done < target {
		li.cond.Wait()
	}
}

// close stops the worker once the queue is drained; call it after the groups are closed.
func (li *liveIndex) close() {
	close(li.work)
	<-li.stopped
}

// entryOf is what the index keeps of r, filed under shard number g.
func entryOf(r *record.Record, g uint8) matcher.Entry {
	return matcher.Entry{Key: r.ID, Serial: r.Serial, OtherSerials: r.OtherSerials, Make: r.Make,
		Model: r.Model, Calibre: r.Calibre, Type: r.Type, Group: g}
}

// load builds the index from the shards' state files (at start and after a restore). It holds the
// lock throughout, so a change applied while it reads waits and lands on the new index (Put and
// Delete are idempotent, so a change both read and re-applied is harmless).
func (li *liveIndex) load(groups map[string]shardCopy) error {
	li.mu.Lock()
	defer li.mu.Unlock()
	li.groups = groups
	ix := matcher.New(referenceTables{}, matcher.Options{})
	shards := make([]string, 0, len(groups))
	for s := range groups {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	batch := make([]matcher.Entry, 0, 8192)
	review := newReviewIndex()
	dups := 0
	for i, s := range shards {
		g := li.shardNo(s)
		err := groups[s].State().ForEach(func(r *record.Record) error {
			review.add(r)
			if i > 0 {
				// An id two shards hold (see apply): the first shard's record stays filed.
				if _, dup := ix.GroupOf(r.ID); dup {
					dups++
					return nil
				}
			}
			batch = append(batch, entryOf(r, g))
			if len(batch) == cap(batch) {
				ix.PutMany(batch)
				batch = batch[:0]
			}
			return nil
		})
		if err != nil {
			return err
		}
		ix.PutMany(batch) // before the next shard looks its ids up
		batch = batch[:0]
	}
	if dups > 0 {
		li.log.Warn("record ids in two shards: the index files each under the first shard holding it", "ids", dups)
	}
	ix.Compact()
	li.ix = ix
	li.review.replace(review)
	li.huge.soon("load")
	return nil
}

// Applied queues changes that are durable in a shard's state for the index.
func (li *liveIndex) Applied(shard string, changes []replication.Change) {
	li.enqueue(indexWork{shard: shard, changes: changes})
}

// Restored queues a rebuild of the whole index: a restore is rare, and the index does not track
// which keys came from which shard.
func (li *liveIndex) Restored(shard string, _ *replication.State) {
	li.enqueue(indexWork{shard: shard, rebuild: true})
}

// Search runs a query against the index. shards[i] is the shard result i was filed under ("" when
// unknown).
func (li *liveIndex) Search(q matcher.Query) (res []matcher.Result, shards []string) {
	li.mu.RLock()
	defer li.mu.RUnlock()
	res = li.ix.Search(q)
	shards = make([]string, len(res))
	for i, r := range res {
		if r.Group > 0 && int(r.Group) <= len(li.shards) {
			shards[i] = li.shards[r.Group-1]
		}
	}
	return res, shards
}

// Len is the number of indexed records.
func (li *liveIndex) Len() int {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return li.ix.Len()
}
