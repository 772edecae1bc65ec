package node

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/record"
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
// (it is their replication.Observer). Searches hold mu shared; an applied batch holds it exclusively
// while it updates the index.
type liveIndex struct {
	log *slog.Logger
	mu  sync.RWMutex // guards ix
	ix  *matcher.Index
	// groups is set once by load, for rebuilding after a snapshot restore.
	groups map[string]*replication.Group
}

func newLiveIndex(log *slog.Logger) *liveIndex {
	return &liveIndex{log: log, ix: matcher.New(referenceTables{}, matcher.Options{})}
}

func entryOf(r *record.Record) matcher.Entry {
	return matcher.Entry{Key: r.ID, Serial: r.Serial, OtherSerials: r.OtherSerials, Make: r.Make,
		Model: r.Model, Calibre: r.Calibre, Type: r.Type}
}

// load builds the index from the shards' state files (at start and after a restore). It holds the
// lock throughout, so a change applied while it reads waits and lands on the new index (Put and
// Delete are idempotent, so a change both read and re-applied is harmless).
func (li *liveIndex) load(groups map[string]*replication.Group) error {
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
	for _, s := range shards {
		err := groups[s].State().ForEach(func(r *record.Record) error {
			batch = append(batch, entryOf(r))
			if len(batch) == cap(batch) {
				ix.PutMany(batch)
				batch = batch[:0]
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	ix.PutMany(batch)
	li.ix = ix
	return nil
}

// Applied updates the index with changes that are durable in a shard's state.
func (li *liveIndex) Applied(_ string, changes []replication.Change) {
	li.mu.Lock()
	defer li.mu.Unlock()
	for _, c := range changes {
		if c.New == nil {
			li.ix.Delete(c.ID)
		} else {
			li.ix.Put(entryOf(c.New))
		}
	}
}

// Restored rebuilds the whole index: a restore is rare, and the index does not track which keys
// came from which shard.
func (li *liveIndex) Restored(shard string, _ *replication.State) {
	t0 := time.Now()
	if err := li.load(li.groups); err != nil {
		li.log.Error("rebuilding index after restore failed", "shard", shard, "error", err)
		return
	}
	li.log.Info("index rebuilt after restore", "shard", shard, "took", time.Since(t0))
}

// Search runs a query against the index.
func (li *liveIndex) Search(q matcher.Query) []matcher.Result {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return li.ix.Search(q)
}

// Len is the number of indexed records.
func (li *liveIndex) Len() int {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return li.ix.Len()
}
