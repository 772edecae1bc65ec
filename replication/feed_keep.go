package replication

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sync"
)

// keptBatch is a batch a fed holder applied: its entries, the index it followed and the
// checkpoint it ended at.
type keptBatch struct {
	after   uint64
	cp      Checkpoint
	entries []FeedEntry
	bytes   int
}

// keptLog is the recent batches a fed holder applied, contiguous from base, bounded in bytes, to
// serve the holders fed from it. It is served from memory and written to the state file as well
// (feed_keepdisk.go), so it outlives a restart; a holder further behind than it reaches is served
// a copy of the state instead.
type keptLog struct {
	mu      sync.Mutex // guards the fields below
	base    uint64     // batches start after this index
	batches []keptBatch
	bytes   int
	limit   int
	changed chan struct{} // closed and replaced when a batch is added or the log reset
}

func (k *keptLog) reset(base uint64, limit int) {
	k.mu.Lock()
	k.base, k.batches, k.bytes, k.limit = base, nil, 0, limit
	if k.changed == nil {
		k.changed = make(chan struct{})
	}
	k.mu.Unlock()
}

// load resets the log to batches read back from the state file (contiguous, ending at the
// applied index), keeping the newest within limit.
func (k *keptLog) load(applied uint64, batches []keptBatch, limit int) {
	if len(batches) == 0 {
		k.reset(applied, limit)
		return
	}
	k.reset(batches[0].after, limit)
	for _, b := range batches {
		k.add(b)
	}
}

// baseIndex is the index the kept batches start after: a batch at or before it is not kept.
func (k *keptLog) baseIndex() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.base
}

func (k *keptLog) add(b keptBatch) {
	for _, e := range b.entries {
		b.bytes += len(e.Data) + 32
	}
	k.mu.Lock()
	k.batches = append(k.batches, b)
	k.bytes += b.bytes
	for k.bytes > k.limit && len(k.batches) > 1 {
		k.base = k.batches[0].cp.Index
		k.bytes -= k.batches[0].bytes
		k.batches[0] = keptBatch{}
		k.batches = k.batches[1:]
	}
	k.mu.Unlock()
	k.notify()
}

func (k *keptLog) notify() {
	k.mu.Lock()
	close(k.changed)
	k.changed = make(chan struct{})
	k.mu.Unlock()
}

func (k *keptLog) changedCh() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.changed
}

// after returns the kept entries after index up to a checkpoint: whole batches, at least one,
// then more while they stay within the limits.
func (k *keptLog) after(index uint64, maxEntries uint32, maxBytes uint32) (Checkpoint, []FeedEntry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if index < k.base {
		return Checkpoint{}, nil, &FeedError{Status: feedBehind, Message: fmt.Sprintf("entries before %d not kept", k.base)}
	}
	var cp Checkpoint
	var out []FeedEntry
	size := 0
	for _, b := range k.batches {
		if b.cp.Index <= index {
			continue
		}
		if cp.Index != 0 && (len(out)+len(b.entries) > int(maxEntries) || size+b.bytes > int(maxBytes)) {
			break
		}
		for _, e := range b.entries {
			if e.Index > index {
				out = append(out, e)
			}
		}
		size += b.bytes
		cp = b.cp
	}
	if cp.Index == 0 {
		return Checkpoint{}, nil, &FeedError{Status: feedNothing, Message: "nothing new"}
	}
	return cp, out, nil
}

func (h *Holder) applied() uint64 { return h.state.Stats().AppliedIndex }

func (h *Holder) feedEntries(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, error) {
	if !waitFor(ctx, q.Wait, q.After, h.applied, h.kept.changedCh) {
		return Checkpoint{}, nil, &FeedError{Status: feedNothing, Message: "nothing new"}
	}
	return h.kept.after(q.After, q.MaxEntries, q.MaxBytes)
}

// feedCheckpoint: a holder signs nothing; checkpoints are asked of central voters.
func (h *Holder) feedCheckpoint(context.Context, FeedRequest) (Checkpoint, error) {
	return Checkpoint{}, &FeedError{Status: feedUnavailable, Message: "not a central voter"}
}

// feedCopy serves the state with the checkpoint stored in the same transaction as its last batch.
func (h *Holder) feedCopy(context.Context, FeedRequest) (Checkpoint, []FeedEntry, *stateSnapshot, error) {
	snap, err := h.state.snapshot()
	if err != nil {
		return Checkpoint{}, nil, nil, err
	}
	v := snap.tx.Bucket(bucketMeta).Get(keyFeedCheckpoint)
	cp, err := readCheckpoint(bufio.NewReader(bytes.NewReader(v)))
	if v == nil || err != nil || cp.Index != snap.st.AppliedIndex {
		snap.Release()
		return Checkpoint{}, nil, nil, &FeedError{Status: feedUnavailable, Message: "no checkpoint of this copy yet"}
	}
	return cp, nil, snap, nil
}
