package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// snapshotCatchup measures how an edge whose log position was compacted away catches up by
// snapshot: over raft on libp2p streams between two hosts on loopback (as federated nodes run it)
// and, as the baseline in the same run, over raft's in-memory transport. It prints one line per
// measurement and fails when a follower's copy differs from its leader's.
func snapshotCatchup(args []string) error {
	fs := newFlags("snapshot-catchup")
	records := fs.Int("records", 1400000, "records loaded before the follower joins")
	dir := fs.String("dir", "", "scratch directory, kept after the run (DIR/libp2p and DIR/inmem are replaced); default a temporary directory, removed")
	seed := fs.Int64("seed", 7, "synthetic records' seed (fedarms gen's sequence)")
	batch := fs.Int("batch", 4000, "records per raft command, as [raft] apply_batch")
	trailing := fs.Uint64("trailing", 64, "raft log entries the leader keeps behind its snapshot")
	over := fs.String("transport", "both", "libp2p, inmem, or both (libp2p, then the in-memory baseline)")
	timeout := fs.Duration("timeout", 30*time.Minute, "longest a catch-up may take")
	verbose := fs.Bool("v", false, "raft's and libp2p's logs on stderr")
	fs.Parse(args)
	if *records < 1 || *batch < 1 {
		return errors.New("snapshot-catchup: -records and -batch must be at least 1")
	}
	overs := []string{overLibp2p, overInmem}
	if *over != "both" {
		overs = []string{*over}
	}
	base, keep := *dir, *dir != ""
	if !keep {
		var err error
		if base, err = os.MkdirTemp("", "fedarms-snapshot-catchup-"); err != nil {
			return err
		}
		defer os.RemoveAll(base)
	}
	var lg *slog.Logger
	if *verbose {
		lg = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	var results []catchupResult
	var diverged error
	for _, o := range overs {
		runDir := filepath.Join(base, o)
		if err := os.RemoveAll(runDir); err != nil {
			return err
		}
		opts := catchupOptions{Over: o, Records: *records, Batch: *batch, Trailing: *trailing, Seed: *seed,
			Dir: runDir, Timeout: *timeout, Logger: lg, Progress: os.Stderr}
		res, err := runCatchup(context.Background(), opts)
		if err != nil && !errors.Is(err, errDiverged) {
			return fmt.Errorf("snapshot-catchup %s: %w", o, err)
		}
		printCatchup(os.Stdout, opts, res)
		if err != nil {
			diverged = err
		}
		results = append(results, res)
		if !keep {
			os.RemoveAll(runDir) // free the disk before the next run
		}
	}
	if len(results) == 2 {
		printRatio(os.Stdout, results[0], results[1])
	}
	return diverged
}

// printCatchup writes one line per measurement of a run.
func printCatchup(w io.Writer, o catchupOptions, r catchupResult) {
	p := func(format string, args ...any) {
		fmt.Fprintf(w, "snapshot-catchup %-6s "+format+"\n", append([]any{r.Over}, args...)...)
	}
	p("load: %d records in %d commands of %d in %.2f s (%.0f records/s)",
		o.Records, r.Commands, o.Batch, r.Load.Seconds(), float64(o.Records)/r.Load.Seconds())
	p("snapshot: %s at index %d; the leader's log starts at %d after it (trailing %d)",
		mb(uint64(r.SnapshotBytes)), r.SnapshotIndex, r.LeaderFirstIndex, o.Trailing)
	phases := "snapshot file complete: not sampled"
	if r.Transfer > 0 {
		phases = fmt.Sprintf("snapshot received after %.2f s (%.1f MB/s)", r.Transfer.Seconds(), mbPerSec(r.SnapshotBytes, r.Transfer))
	}
	if r.Restored > 0 {
		phases += fmt.Sprintf(", restored after %.2f s, log tail %.2f s", r.Restored.Seconds(), (r.CatchUp - r.Restored).Seconds())
	}
	p("catch-up: %.2f s from AddNonvoter to the leader's applied index: %.1f MB/s, %.0f records/s (%s)",
		r.CatchUp.Seconds(), mbPerSec(r.SnapshotBytes, r.CatchUp), float64(r.Follower.Records)/r.CatchUp.Seconds(), phases)
	hwm := "VmHWM " + mb(r.Peak.Proc.HWM)
	if !r.HWMReset {
		hwm += " since the process started"
	}
	p("memory during catch-up (both nodes, one process; %d samples every %v): RSS %s before, peak %s (%s), +%s; anonymous %s -> peak %s (+%s); Go heap in use %s -> peak %s (+%s)",
		r.Peak.Samples, sampleEvery, mb(r.Before.RSS), mb(r.Peak.Proc.RSS), hwm, mb(sub(r.Peak.Proc.RSS, r.Before.RSS)),
		mb(r.Before.Anon), mb(r.Peak.Proc.Anon), mb(sub(r.Peak.Proc.Anon, r.Before.Anon)),
		mb(r.BeforeHeap), mb(r.Peak.Heap), mb(sub(r.Peak.Heap, r.BeforeHeap)))
	verdict := "equal"
	if r.Leader.Digest != r.Follower.Digest || r.Leader.Records != r.Follower.Records {
		verdict = "DIFFERENT"
	}
	p("digest: leader %d records %.16s, follower %d records %.16s: %s",
		r.Leader.Records, r.Leader.Digest.String(), r.Follower.Records, r.Follower.Digest.String(), verdict)
}

// printRatio compares the libp2p run with the in-memory baseline.
func printRatio(w io.Writer, a, b catchupResult) {
	fmt.Fprintf(w, "snapshot-catchup %s/%s catch-up: %.2fx (%.2f s vs %.2f s)",
		a.Over, b.Over, a.CatchUp.Seconds()/b.CatchUp.Seconds(), a.CatchUp.Seconds(), b.CatchUp.Seconds())
	if a.Transfer > 0 && b.Transfer > 0 {
		fmt.Fprintf(w, "; snapshot received: %.2fx (%.2f s vs %.2f s)", a.Transfer.Seconds()/b.Transfer.Seconds(), a.Transfer.Seconds(), b.Transfer.Seconds())
	}
	same := "the same records"
	if a.Leader.Digest != b.Leader.Digest {
		same = "DIFFERENT records"
	}
	fmt.Fprintf(w, "; both runs loaded %s\n", same)
}

func mbPerSec(bytes int64, d time.Duration) float64 { return float64(bytes) / (1 << 20) / d.Seconds() }

// sub is a-b, or 0 when b is larger (a peak sampled below the starting point).
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
