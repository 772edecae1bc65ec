package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// CheckpointFetcher asks a central voter for a checkpoint of shard in (after, limit], preferably
// at or below want (FetchCheckpoint over the feed protocol, in the node).
type CheckpointFetcher func(ctx context.Context, shard string, after, want, limit uint64) (Checkpoint, error)

// ServeGroup serves a shard this node holds as a raft member: entries from its log store, copies
// of its state. A central voter signs the checkpoints itself (signer); any other member asks one
// (fetch) and keeps the recent answers, which serve every holder fed from it.
func (s *FeedServer) ServeGroup(g *Group, signer CheckpointSigner, fetch CheckpointFetcher) {
	s.set(g.Shard(), &groupOrigin{g: g, signer: signer, fetch: fetch})
}

type groupOrigin struct {
	g      *Group
	signer CheckpointSigner
	fetch  CheckpointFetcher
	mu     sync.Mutex   // guards cached
	cached []Checkpoint // recent fetched checkpoints, oldest first
}

const cachedCheckpoints = 64

func (o *groupOrigin) applied() uint64 { return o.g.state.Stats().AppliedIndex }

// checkpoint signs one (central voter) or finds one cached or fetched from a central voter.
func (o *groupOrigin) checkpoint(ctx context.Context, after, want, limit uint64) (Checkpoint, error) {
	if o.signer != nil {
		cp, err := o.g.Checkpoint(o.signer, after, want, limit)
		if err == nil || o.fetch == nil {
			return cp, err
		}
	}
	o.mu.Lock()
	var best *Checkpoint
	for i := range o.cached {
		c := &o.cached[i]
		if c.Index <= after || c.Index > limit {
			continue
		}
		if best == nil || (c.Index <= want && (best.Index > want || c.Index > best.Index)) || (best.Index > want && c.Index < best.Index) {
			best = c
		}
	}
	var cp Checkpoint
	if best != nil {
		cp = *best
	}
	o.mu.Unlock()
	if best != nil {
		return cp, nil
	}
	if o.fetch == nil {
		return Checkpoint{}, fmt.Errorf("shard %s: no central voter to sign: %w", o.g.shard, ErrNoCheckpoint)
	}
	cp, err := o.fetch(ctx, o.g.shard, after, want, limit)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Shard != o.g.shard || cp.Index <= after || cp.Index > limit {
		return Checkpoint{}, fmt.Errorf("shard %s: checkpoint from %s at %d is outside (%d, %d]", o.g.shard, cp.Signer, cp.Index, after, limit)
	}
	o.mu.Lock()
	o.cached = append(o.cached, cp)
	if len(o.cached) > cachedCheckpoints {
		o.cached = o.cached[len(o.cached)-cachedCheckpoints:]
	}
	o.mu.Unlock()
	return cp, nil
}

func (o *groupOrigin) feedEntries(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, error) {
	if !waitFor(ctx, q.Wait, q.After, o.applied, pollEvery) {
		return Checkpoint{}, nil, &FeedError{Status: feedNothing, Message: "nothing new"}
	}
	first, err := o.g.logs.FirstIndex()
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if q.After+1 < first {
		return Checkpoint{}, nil, &FeedError{Status: feedBehind, Message: fmt.Sprintf("entries before %d compacted", first)}
	}
	if o.copySmaller(q.After) {
		return Checkpoint{}, nil, &FeedError{Status: feedBehind, Message: "a copy of the state is smaller than the entries behind"}
	}
	cp, err := o.checkpoint(ctx, q.After, o.wantWithin(q.After, q.MaxEntries, q.MaxBytes), o.applied())
	if err != nil {
		return Checkpoint{}, nil, noCheckpoint(err)
	}
	entries, err := o.entries(q.After, cp.Index)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	return cp, entries, nil
}

// wantWithin is the index a batch after `after` should end at to stay within maxEntries and
// maxBytes of command data (at least one entry): a holder on a thin link asks for what its budget
// carries within its timeout, and a batch the link cannot carry in time would be asked again for
// ever. The checkpoint picked may still end past it (none kept at or below it).
func (o *groupOrigin) wantWithin(after uint64, maxEntries, maxBytes uint32) uint64 {
	want := after + uint64(maxEntries)
	last, err := o.g.logs.LastIndex()
	if err != nil {
		return want
	}
	total, commands := 0, 0
	for i := after + 1; i <= min(want, last); i++ {
		var l raft.Log
		if o.g.logs.GetLog(i, &l) != nil {
			return want
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if total += len(l.Data); total > int(maxBytes) && commands > 0 {
			return i - 1
		}
		commands++
	}
	return want
}

// A holder far behind a source whose log still holds every entry would otherwise take them all:
// on the thin-link drill's link, 100,000 records took 5.49 MB as entries against 2.54 MB as a copy
// (about 55 bytes a record written against 25 a record held), and whether a new edge took entries
// or a copy depended on when its source last compacted its log. So a source answers "behind"
// (take a copy) when the command bytes after the asker's index exceed what a copy would cost,
// copyBytesPerRecord for each record held, and at least copyMinBehind (below that either way is
// cheap, and a young shard's holders are often a whole state behind). The scan stops at that
// bound.

// copyBytesPerRecord is what a copy costs on the wire per record held (compressed), rounded up
// from the drill's 25.
const copyBytesPerRecord = 32

// copyMinBehind is the least command bytes behind for which a copy is sent instead (a variable for
// tests).
var copyMinBehind int64 = 1 << 20

// copySmaller reports whether the commands after `after` hold more bytes than a copy of the state
// would cost, so a copy is the cheaper way to catch up.
func (o *groupOrigin) copySmaller(after uint64) bool {
	st := o.g.state.Stats()
	bound := max(copyMinBehind, int64(st.Records)*copyBytesPerRecord)
	total := int64(0)
	for i := after + 1; i <= st.AppliedIndex; i++ {
		var l raft.Log
		if o.g.logs.GetLog(i, &l) != nil {
			return false
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if total += int64(len(l.Data)); total > bound {
			return true
		}
	}
	return false
}

// entries reads the command entries in (after, upto] from the log store.
func (o *groupOrigin) entries(after, upto uint64) ([]FeedEntry, error) {
	var out []FeedEntry
	total := 0
	for i := after + 1; i <= upto; i++ {
		var l raft.Log
		if err := o.g.logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				return nil, &FeedError{Status: feedBehind, Message: fmt.Sprintf("entry %d not kept", i)}
			}
			return nil, fmt.Errorf("read entry %d: %w", i, err)
		}
		if e, ok := feedEntryOf(&l); ok {
			total += len(e.Data)
			if total > maxFeedBatch || len(out) == maxFeedEntries {
				return nil, &FeedError{Status: feedBehind, Message: "too far behind for one batch"}
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func (o *groupOrigin) feedCheckpoint(ctx context.Context, q FeedRequest) (Checkpoint, error) {
	if o.signer == nil {
		return Checkpoint{}, &FeedError{Status: feedUnavailable, Message: "not a central voter"}
	}
	cp, err := o.g.Checkpoint(o.signer, q.After, q.Want, q.Limit)
	if err != nil {
		return Checkpoint{}, noCheckpoint(err)
	}
	return cp, nil
}

func (o *groupOrigin) feedCopy(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, *stateSnapshot, error) {
	snap, err := o.g.state.snapshot()
	if err != nil {
		return Checkpoint{}, nil, nil, err
	}
	at := snap.st.AppliedIndex
	if at == 0 {
		snap.Release()
		return Checkpoint{}, nil, nil, &FeedError{Status: feedNothing, Message: "empty"}
	}
	// The snapshot's own index may not be one a central voter kept a hash of (each node
	// batches its applies differently): the entries after it up to a checkpoint come along.
	cp, err := o.checkpoint(ctx, at-1, at, o.applied())
	if err != nil {
		snap.Release()
		return Checkpoint{}, nil, nil, noCheckpoint(err)
	}
	entries, err := o.entries(at, cp.Index)
	if err != nil {
		snap.Release()
		return Checkpoint{}, nil, nil, err
	}
	return cp, entries, snap, nil
}

func noCheckpoint(err error) error {
	return &FeedError{Status: feedUnavailable, Message: err.Error()}
}

// pollEvery is how a group origin notices a new applied index: the state has no signal for it.
func pollEvery() <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(5*time.Millisecond, func() { close(ch) })
	return ch
}
