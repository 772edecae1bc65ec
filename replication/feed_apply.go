package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/seal"
)

// keyFeedCheckpoint holds, in a fed holder's state meta, the checkpoint its applied index is at
// (the wire encoding), written in the transaction that applied the batch: a copy served from the
// state's read transaction carries the checkpoint of exactly that state.
var keyFeedCheckpoint = []byte("feed_checkpoint")

// errHashMismatch: the entries applied do not give the state the voters signed.
var errHashMismatch = errors.New("state hash differs from the checkpoint")

// verifiedEntries decodes a batch into entries to apply, ending with one at the checkpoint's index
// that carries no command (the entries the feed leaves out carry none either).
// decode replaces Command.UnmarshalBinary when set (tests emulate another release with it).
func verifiedEntries(cp *Checkpoint, entries []FeedEntry, term uint64, decode func(*Command, []byte) error) ([]appliedEntry, error) {
	if decode == nil {
		decode = (*Command).UnmarshalBinary
	}
	out := make([]appliedEntry, 0, len(entries)+1)
	results := make([]Result, len(entries)+1)
	for i, e := range entries {
		cmd := new(Command)
		if err := decode(cmd, e.Data); err != nil {
			var ve *VersionError
			if errors.As(err, &ve) {
				// Committed by a newer release perhaps: not the source's fault.
				return nil, &formatFault{index: e.Index, err: ve}
			}
			return nil, refused("entry %d does not decode: %v", e.Index, err)
		}
		out = append(out, appliedEntry{index: e.Index, term: e.Term, cmd: cmd, result: &results[i]})
		term = e.Term
	}
	return append(out, appliedEntry{index: cp.Index, term: term, result: &results[len(entries)]}), nil
}

// checkAgainst is the check applyBatchChecked runs before it commits: the batch ends at the
// checkpoint with the signed hash; the checkpoint is stored with the state.
func checkAgainst(cp *Checkpoint) func(*bolt.Bucket, Stats, *StateHash) error {
	return func(meta *bolt.Bucket, st Stats, h *StateHash) error {
		if st.AppliedIndex != cp.Index {
			return refused("batch ends at %d, its checkpoint at %d", st.AppliedIndex, cp.Index)
		}
		if *h != cp.Hash {
			return refused("%v at index %d: %s, signed by %s: %s", errHashMismatch, cp.Index, h.Short(), cp.Signer, cp.Hash.Short())
		}
		return meta.Put(keyFeedCheckpoint, cp.appendWire(nil))
	}
}

// applyVerified applies a batch in one transaction, committed only if the state then has the
// checkpoint's hash.
// The batch is kept, on disk in the same transaction, to serve the holders fed from this one.
func (h *Holder) applyVerified(cp Checkpoint, entries []FeedEntry) error {
	before := h.state.Stats()
	ents, err := verifiedEntries(&cp, entries, before.AppliedTerm, h.cfg.decode)
	if err != nil {
		return err
	}
	kb := keptBatch{after: before.AppliedIndex, cp: cp, entries: entries}
	check := checkAgainst(&cp)
	changes, err := h.state.applyBatchChecked(ents, func(meta *bolt.Bucket, st Stats, hash *StateHash) error {
		if err := check(meta, st, hash); err != nil {
			return err
		}
		return storeKept(meta.Tx(), h.cfg.Key, &kb, h.kept.baseIndex())
	})
	var re *refusal
	if err != nil && !errors.As(err, &re) {
		return &writeFault{index: before.AppliedIndex + 1, err: err}
	}
	if err != nil {
		return err
	}
	if len(changes) > 0 && h.cfg.Observer != nil {
		h.cfg.Observer.Applied(h.cfg.Shard, changes)
	}
	h.kept.add(kb)
	return nil
}

// copyFrom replaces this copy by src's state at a checkpoint: the snapshot is loaded into a new
// file next to the state, the entries after it applied there, and the file swapped in only if its
// hash is the checkpoint's.
func (h *Holder) copyFrom(ctx context.Context, src string) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CopyTimeout)
	defer cancel()
	c, err := ask(ctx, h.cfg.Dial, src, FeedRequest{Kind: FeedCopy, Shard: h.cfg.Shard})
	if err != nil {
		return err
	}
	defer c.close()
	h.log.Info("feed: taking a copy of the state", "source", src)
	cp, entries, err := readFeedEntries(c.body, 0, false)
	if err != nil {
		if cut(err) || ctx.Err() != nil {
			return err
		}
		return refused("malformed copy: %v", err)
	}
	if err := checkCheckpoint(&cp, h.cfg.Shard, h.cfg.Verify); err != nil {
		return refused("%v", err)
	}
	tmp := h.state.Path() + ".feed"
	st, err := loadVerified(tmp, h.cfg.Key, h.cfg.noSync, h.cfg.decode, c.body, cp, entries)
	if err != nil {
		_ = removeIfExists(tmp)
		if ctx.Err() != nil {
			return fmt.Errorf("copy cut by its timeout: %w (%v)", ctx.Err(), err)
		}
		return err
	}
	if err := h.takeVerified(tmp, st, cp.Index); err != nil {
		return err
	}
	h.log.Info("feed: copy verified and taken", "source", src, "index", cp.Index, "records", st.Records)
	return nil
}

// takeVerified swaps a verified copy at tmp in for the state, at index: the kept batches start
// again there, the observer re-reads the state, holders fed from this one are woken, and a halt
// ends.
func (h *Holder) takeVerified(tmp string, st Stats, index uint64) error {
	if err := h.state.swap(tmp, st); err != nil {
		return err
	}
	h.kept.reset(index, h.cfg.KeepBytes)
	if h.cfg.Observer != nil {
		h.cfg.Observer.Restored(h.cfg.Shard, h.state)
	}
	h.copies.Add(1)
	h.kept.notify()
	h.touched()
	h.resumed()
	return nil
}

// loadVerified writes a snapshot stream and the entries after it to a new state file at path and
// checks it against the checkpoint.
func loadVerified(path string, key *seal.Key, noSync bool, decode func(*Command, []byte) error, body *bufio.Reader, cp Checkpoint, entries []FeedEntry) (Stats, error) {
	if err := removeIfExists(path); err != nil {
		return Stats{}, err
	}
	ns, err := openState(path, key, noSync)
	if err != nil {
		return Stats{}, err
	}
	defer ns.Close()
	st, err := ns.load(body)
	if err != nil {
		if cut(err) {
			return Stats{}, err
		}
		return Stats{}, refused("copy: %v", err)
	}
	if st.AppliedIndex > cp.Index {
		return Stats{}, refused("copy at %d is past its checkpoint at %d", st.AppliedIndex, cp.Index)
	}
	ents, err := verifiedEntries(&cp, entries, st.AppliedTerm, decode)
	if err != nil {
		return Stats{}, err
	}
	if _, err := ns.applyBatchChecked(ents, checkAgainst(&cp)); err != nil {
		return Stats{}, err
	}
	return ns.Stats(), nil
}
