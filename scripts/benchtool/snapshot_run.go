package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/replication"
)

// errDiverged means the follower reached the leader's applied index with other records.
var errDiverged = errors.New("follower's copy differs from the leader's")

// sampleEvery is the memory sampling period during the catch-up.
const sampleEvery = 100 * time.Millisecond

// catchupOptions configure one measured catch-up.
type catchupOptions struct {
	Over     string // overLibp2p or overInmem
	Records  int
	Batch    int    // records per raft command, as the node's [raft] apply_batch
	Trailing uint64 // the leader's raft TrailingLogs: entries it keeps behind a snapshot
	Seed     int64
	Dir      string // the run's scratch directory: leader/ and follower/ are made in it
	Timeout  time.Duration
	Logger   *slog.Logger // raft's and libp2p's logs; nil discards them
	Progress io.Writer    // load progress lines; nil for none
	// Plain dials raft's uncompressed protocol (the encoding before zstd), for the comparison;
	// Bandwidth caps both hosts' raft traffic in bytes per second (0: none). libp2p only.
	Plain     bool
	Bandwidth int64
}

// catchupResult is what one run measured.
type catchupResult struct {
	Over     string
	Commands int
	Load     time.Duration
	// SnapshotBytes and SnapshotIndex describe the leader's snapshot the follower received.
	SnapshotBytes int64
	SnapshotIndex uint64
	// LeaderFirstIndex is the first entry left in the leader's log, read after the run.
	LeaderFirstIndex uint64
	// CatchUp runs from AddNonvoter until the follower applied the leader's last index. Within it,
	// Transfer ends when the follower's copy of the snapshot file was complete (0 when the sampler
	// never saw it, on a very short run) and Restored when its state was swapped for the snapshot.
	CatchUp, Transfer, Restored time.Duration
	// Before is the process's memory just before AddNonvoter (after a GC); Peak the highest seen
	// during the catch-up; HWMReset whether VmHWM was reset before it (so Peak.Proc.HWM is its own).
	Before     procMem
	BeforeHeap uint64
	Peak       memPeak
	HWMReset   bool
	// Leader and Follower are both copies' state when the follower caught up.
	Leader, Follower replication.Stats
	// WireToFollower and WireFromFollower are the raft bytes on the wire during the catch-up
	// (libp2p only), counted by the follower's host.
	WireToFollower, WireFromFollower int64
}

// restoreClock is the follower's observer: it notes when a snapshot replaced its state.
type restoreClock struct{ at atomic.Int64 }

// Applied ignores applied entries: only the restore is timed.
func (c *restoreClock) Applied(string, []replication.Change) {}

// Restored notes the first time the follower's state was replaced by a snapshot.
func (c *restoreClock) Restored(string, *replication.State) {
	c.at.CompareAndSwap(0, time.Now().UnixNano())
}

// benchTune leaves raft's defaults (as a federated shard group) but takes no snapshot by itself:
// the run forces the one it measures.
func benchTune(rc *raft.Config) { rc.SnapshotInterval = time.Hour }

// runCatchup loads o.Records records into a one-voter group, snapshots and compacts its log, then
// adds a fresh non-voter over o.Over and measures its catch-up. It returns errDiverged (with the
// result) when the copies differ.
func runCatchup(ctx context.Context, o catchupOptions) (res catchupResult, err error) {
	res.Over = o.Over
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	var pair *raftPair
	switch o.Over {
	case overLibp2p:
		if pair, err = libp2pPair(ctx, lg, o.Plain, o.Bandwidth); err != nil {
			return res, err
		}
	case overInmem:
		pair = inmemPair()
	default:
		return res, fmt.Errorf("transport %q: want %s or %s", o.Over, overLibp2p, overInmem)
	}
	defer pair.close()
	leaderDir, followerDir := filepath.Join(o.Dir, "leader"), filepath.Join(o.Dir, "follower")
	leader, err := replication.OpenGroup(replication.GroupConfig{Shard: benchShard, Dir: leaderDir, LocalID: leaderName,
		Transport: pair.leader, Bootstrap: true, SnapshotThreshold: 1 << 40, TrailingLogs: o.Trailing, Logger: lg, Tune: benchTune})
	if err != nil {
		return res, fmt.Errorf("leader: %w", err)
	}
	leaderOpen := true
	defer func() {
		if leaderOpen {
			leader.Close()
		}
	}()
	if err := leader.WaitForLeader(ctx); err != nil {
		return res, err
	}

	if err := loadAndSnapshot(ctx, leader, leaderDir, o, &res); err != nil {
		return res, err
	}
	clock := &restoreClock{}
	follower, err := replication.OpenGroup(replication.GroupConfig{Shard: benchShard, Dir: followerDir, LocalID: followerName,
		Transport: pair.follower, Observer: clock, Logger: lg, Tune: benchTune})
	if err != nil {
		return res, fmt.Errorf("follower: %w", err)
	}
	defer follower.Close()

	runtime.GC()
	debug.FreeOSMemory()
	if res.Before, err = readProcMem(); err != nil {
		return res, err
	}
	res.BeforeHeap = heapInUse()
	res.HWMReset = resetPeakRSS()
	start := time.Now()
	smp := startSampler(sampleEvery)
	stopWatch := watchReceived(followerDir, res.SnapshotBytes)
	wireIn, wireOut := pair.wire()
	err = catchUp(ctx, o.Timeout, leader, follower, pair.followerAddr)
	res.CatchUp = time.Since(start)
	in, out := pair.wire()
	res.WireToFollower, res.WireFromFollower = in-wireIn, out-wireOut
	received := stopWatch()
	res.Peak = smp.Stop()
	if err != nil {
		return res, err
	}
	if at := clock.at.Load(); at != 0 {
		res.Restored = time.Unix(0, at).Sub(start)
	}
	// A file seen complete only after the restore was not timed (it is restored from that file).
	if !received.IsZero() && (res.Restored == 0 || received.Sub(start) <= res.Restored) {
		res.Transfer = received.Sub(start)
	}
	res.Leader, res.Follower = leader.State().Stats(), follower.State().Stats()

	leaderOpen = false
	if err := leader.Close(); err != nil {
		return res, fmt.Errorf("close leader: %w", err)
	}
	if res.LeaderFirstIndex, err = firstLogIndex(filepath.Join(leaderDir, "raft.db")); err != nil {
		return res, err
	}
	if res.Leader.Digest != res.Follower.Digest || res.Leader.Records != res.Follower.Records {
		return res, fmt.Errorf("%w: leader %d records digest %s, follower %d records digest %s",
			errDiverged, res.Leader.Records, res.Leader.Digest, res.Follower.Records, res.Follower.Digest)
	}
	if res.Restored == 0 {
		return res, fmt.Errorf("follower caught up without a snapshot (the leader's log starts at %d)", res.LeaderFirstIndex)
	}
	return res, nil
}

// catchUp adds the follower as a non-voter and waits until it has applied everything the leader
// had applied once the change was committed.
func catchUp(ctx context.Context, timeout time.Duration, leader, follower *replication.Group, addr raft.ServerAddress) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := leader.AddNonvoter(followerName, addr); err != nil {
		return err
	}
	if err := leader.WaitApplied(ctx, leader.Status().CommitIndex); err != nil {
		return err
	}
	target := leader.State().Stats().AppliedIndex
	if err := follower.WaitApplied(ctx, target); err != nil {
		st := follower.Status()
		return fmt.Errorf("follower at index %d with %d records, leader at %d: %w", st.AppliedIndex, st.Records, target, err)
	}
	return nil
}

// watchReceived polls a group's snapshot directory every few milliseconds until the returned stop
// is called, which gives the time a snapshot file there first reached size bytes (zero if never).
func watchReceived(groupDir string, size int64) (stop func() time.Time) {
	done := make(chan struct{})
	at := make(chan time.Time, 1)
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				at <- time.Time{}
				return
			case now := <-t.C:
				if receivedBytes(groupDir) >= size {
					at <- now
					<-done
					return
				}
			}
		}
	}()
	return func() time.Time {
		close(done)
		return <-at
	}
}

// receivedBytes is the size of the largest snapshot file (finished or being received) in a
// group's directory: raft's file snapshot store writes snapshots/<id>.tmp/state.bin, then renames.
func receivedBytes(groupDir string) int64 {
	files, _ := filepath.Glob(filepath.Join(groupDir, "snapshots", "*", "state.bin"))
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n = max(n, st.Size())
		}
	}
	return n
}
