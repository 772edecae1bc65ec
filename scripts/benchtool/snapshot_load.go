package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/replication"
)

// applyInFlight is how many import commands the load keeps outstanding, as the node's importer does.
const applyInFlight = 8

// loadAndSnapshot loads the records into the leader, then has it snapshot, which truncates its log
// to o.Trailing entries before it returns: a member that joins now is behind the log's start.
func loadAndSnapshot(ctx context.Context, leader *replication.Group, dir string, o catchupOptions, res *catchupResult) error {
	t0 := time.Now()
	var err error
	if res.Commands, err = loadRecords(ctx, leader, o); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	res.Load = time.Since(t0)
	if err := leader.Snapshot(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	meta, err := latestSnapshot(dir)
	if err != nil {
		return err
	}
	res.SnapshotIndex, res.SnapshotBytes = meta.Index, meta.Size
	// raft keeps the last o.Trailing entries, so the first one goes only when there are more.
	if res.SnapshotIndex <= o.Trailing {
		return fmt.Errorf("the leader's log (%d entries) is no longer than -trailing %d, so a new member would replay it: load more records or lower -trailing or -batch",
			res.SnapshotIndex, o.Trailing)
	}
	return nil
}

// loadRecords applies o.Records synthetic records (fedarms gen's sequence for o.Seed) through the
// leader in commands of o.Batch, normalised and validated as the node's importer does, with
// applyInFlight commands outstanding.
func loadRecords(ctx context.Context, g *replication.Group, o catchupOptions) (int, error) {
	gen := synth.New(o.Seed)
	sem := make(chan struct{}, applyInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards applied, firstErr
	var firstErr error
	applied, commands := 0, 0
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	isCountry := func(code string) bool { _, ok := reference.Country(code); return ok }
	for i := 0; i < o.Records; i += o.Batch {
		recs := make([]record.Record, 0, min(o.Batch, o.Records-i))
		for range cap(recs) {
			r := gen.Next()
			r.Normalize()
			if err := r.Validate(isCountry); err != nil {
				setErr(fmt.Errorf("synthetic record %s: %w", r.ID, err))
				break
			}
			recs = append(recs, r)
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		commands++
		go func(cmd *replication.Command) {
			defer func() { <-sem; wg.Done() }()
			r, err := g.Apply(ctx, cmd)
			if err == nil && len(r.Errors) > 0 {
				err = fmt.Errorf("record %s: %s: %s", r.Errors[0].ID, r.Errors[0].Code, r.Errors[0].Message)
			}
			if err != nil {
				setErr(err)
				return
			}
			mu.Lock()
			before := applied
			applied += r.Applied
			if o.Progress != nil && applied/200000 != before/200000 {
				fmt.Fprintf(o.Progress, "snapshot-catchup %s: loaded %d records\n", o.Over, applied)
			}
			mu.Unlock()
		}(&replication.Command{Op: replication.OpUpsert, Principal: replication.Principal{Agency: "BENCH", Admin: true}, Records: recs})
	}
	wg.Wait()
	if firstErr == nil && applied != o.Records {
		firstErr = fmt.Errorf("applied %d records of %d", applied, o.Records)
	}
	return commands, firstErr
}

// latestSnapshot is the newest snapshot in a group's directory, as raft's file snapshot store lists it.
func latestSnapshot(groupDir string) (*raft.SnapshotMeta, error) {
	store, err := raft.NewFileSnapshotStore(groupDir, 2, io.Discard)
	if err != nil {
		return nil, err
	}
	metas, err := store.List()
	if err != nil {
		return nil, err
	}
	if len(metas) == 0 {
		return nil, fmt.Errorf("no snapshot under %s", groupDir)
	}
	return metas[0], nil
}

// firstLogIndex reads the first index of a closed group's raft log.
func firstLogIndex(path string) (uint64, error) {
	ls, err := replication.OpenLogStore(path, replication.LogStoreOptions{})
	if err != nil {
		return 0, fmt.Errorf("leader's log: %w", err)
	}
	defer ls.Close()
	return ls.FirstIndex()
}
