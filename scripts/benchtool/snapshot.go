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

	"github.com/fedarms/fedarms/config"
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
	wireMode := fs.String("wire", "zstd", "raft's protocol over libp2p: zstd (/fedarms/raft/2), plain (/fedarms/raft/1), or both (zstd, then plain, compared)")
	bandwidth := fs.String("max-bandwidth", "", "cap both hosts' raft traffic, as [replication] max_bandwidth (e.g. 512kbit); libp2p only")
	fs.Parse(args)
	bw, err := config.ParseBandwidth(*bandwidth)
	if err != nil {
		return fmt.Errorf("snapshot-catchup: -max-bandwidth: %w", err)
	}
	if *records < 1 || *batch < 1 {
		return errors.New("snapshot-catchup: -records and -batch must be at least 1")
	}
	overs := []string{overLibp2p, overInmem}
	if *over != "both" {
		overs = []string{*over}
	}
	plains := map[string][]bool{"zstd": {false}, "plain": {true}, "both": {false, true}}[*wireMode]
	if plains == nil {
		return fmt.Errorf("snapshot-catchup: -wire %q: want zstd, plain or both", *wireMode)
	}
	if *over != overLibp2p && *wireMode == "both" {
		return errors.New("snapshot-catchup: -wire both needs -transport libp2p")
	}
	if *over == overLibp2p && len(plains) == 2 {
		overs = []string{overLibp2p, overLibp2p}
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
	for i, o := range overs {
		plain := plains[min(i, len(plains)-1)]
		runDir := filepath.Join(base, o)
		if err := os.RemoveAll(runDir); err != nil {
			return err
		}
		opts := catchupOptions{Over: o, Records: *records, Batch: *batch, Trailing: *trailing, Seed: *seed,
			Dir: runDir, Timeout: *timeout, Logger: lg, Progress: os.Stderr, Plain: plain && o == overLibp2p, Bandwidth: bw}
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
	if len(results) == 2 && results[1].Over == overLibp2p {
		printWireRatio(os.Stdout, results[0], results[1])
	} else if len(results) == 2 {
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
	if r.Over == overLibp2p {
		proto := "zstd (/fedarms/raft/2)"
		if o.Plain {
			proto = "plain (/fedarms/raft/1)"
		}
		capped := "no cap"
		if o.Bandwidth > 0 {
			capped = fmt.Sprintf("capped at %d bytes/s", o.Bandwidth)
		}
		p("wire, %s, %s: %d bytes to the follower (%.1f%% of the snapshot's %d bytes, %.0f bytes per record), %d bytes back",
			proto, capped, r.WireToFollower, 100*float64(r.WireToFollower)/float64(max(r.SnapshotBytes, 1)), r.SnapshotBytes,
			float64(r.WireToFollower)/float64(max(r.Follower.Records, 1)), r.WireFromFollower)
	}
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

// printWireRatio compares a compressed libp2p run with a plain one.
func printWireRatio(w io.Writer, z, plain catchupResult) {
	fmt.Fprintf(w, "snapshot-catchup zstd/plain wire bytes to the follower: %.1f%% (%d vs %d); catch-up %.2f s vs %.2f s\n",
		100*float64(z.WireToFollower)/float64(max(plain.WireToFollower, 1)), z.WireToFollower, plain.WireToFollower,
		z.CatchUp.Seconds(), plain.CatchUp.Seconds())
}

func mbPerSec(bytes int64, d time.Duration) float64 { return float64(bytes) / (1 << 20) / d.Seconds() }

// sub is a-b, or 0 when b is larger (a peak sampled below the starting point).
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
