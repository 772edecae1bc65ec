package replication

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

// TestScaleManyNonvoters is the scale run: one central leader (with two other voters)
// replicating records to many non-voters in one process over raft's in-memory transport. It reports
// the leader's CPU (profile samples in raft's leader goroutines), replication lag per write at p50
// and p99 across all non-voters, and heap. Opt-in: FEDARMS_SCALE_NONVOTERS=40 FEDARMS_SCALE_RECORDS=100000.
func TestScaleManyNonvoters(t *testing.T) {
	nv, _ := strconv.Atoi(os.Getenv("FEDARMS_SCALE_NONVOTERS"))
	total, _ := strconv.Atoi(os.Getenv("FEDARMS_SCALE_RECORDS"))
	if nv == 0 || total == 0 {
		t.Skip("opt-in: set FEDARMS_SCALE_NONVOTERS and FEDARMS_SCALE_RECORDS")
	}
	c := newCluster(t, 3, nv, func(rc *raft.Config) {
		rc.HeartbeatTimeout = 1000 * time.Millisecond
		rc.ElectionTimeout = 1000 * time.Millisecond
		rc.LeaderLeaseTimeout = 500 * time.Millisecond
	})
	l := c.leader()
	var prof strings.Builder
	pw := &profWriter{b: &prof}
	if err := pprof.StartCPUProfile(pw); err != nil {
		t.Fatal(err)
	}
	const batch = 1000
	type mark struct {
		index uint64
		at    time.Time
	}
	var marks []mark
	var lags []time.Duration
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Poll every member's applied index and record when each passes each mark.
	for _, m := range c.members[3:] {
		wg.Add(1)
		go func(m *member) {
			defer wg.Done()
			next := 0
			for {
				applied := m.g.State().Stats().AppliedIndex
				now := time.Now()
				mu.Lock()
				for next < len(marks) && applied >= marks[next].index {
					lags = append(lags, now.Sub(marks[next].at))
					next++
				}
				done := next == total/batch
				mu.Unlock()
				if done {
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}(m)
	}
	t0 := time.Now()
	for i := 0; i < total; i += batch {
		var recs []record.Record
		for j := i; j < i+batch; j++ {
			recs = append(recs, rec(fmt.Sprintf("FR-%07d", j), "FR", fmt.Sprintf("S%d", j)))
		}
		res, err := l.g.Apply(context.Background(), &Command{Op: OpUpsert, Principal: Principal{Agency: "FR-NCB", Country: "FR"}, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		marks = append(marks, mark{res.Index, time.Now()})
		mu.Unlock()
	}
	writeTook := time.Since(t0)
	testutil.WaitFor(t, 10*time.Minute, "every member to converge", c.converged)
	allTook := time.Since(t0)
	close(stop)
	wg.Wait()
	pprof.StopCPUProfile()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	leaderCPU, totalCPU := leaderSeconds(t, pw.bytes())
	slices.Sort(lags)
	q := func(p float64) time.Duration { return lags[int(p*float64(len(lags)-1))] }
	t.Logf("non-voters=%d records=%d: written in %v, all converged after %v", nv, total, writeTook.Round(time.Millisecond), allTook.Round(time.Millisecond))
	t.Logf("replication lag per write across non-voters: p50 %v p99 %v max %v (n=%d)", q(0.5), q(0.99), q(1), len(lags))
	t.Logf("CPU: leader's raft goroutines %.2fs, whole process %.2fs over %.1fs wall", leaderCPU, totalCPU, allTook.Seconds())
	t.Logf("heap in use after: %d MB for %d nodes", ms.HeapInuse>>20, len(c.members))
}

type profWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *profWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *profWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return []byte(w.b.String())
}

// leaderSeconds attributes CPU samples to the leader's replication work: stacks through raft's
// leader loop, its per-follower replication goroutines or the log store.
func leaderSeconds(t *testing.T, raw []byte) (leader, total float64) {
	p, err := profile.ParseData(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sample {
		secs := float64(s.Value[1]) / 1e9
		total += secs
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				fn := ln.Function.Name
				if strings.Contains(fn, "(*Raft).replicate") || strings.Contains(fn, "(*Raft).leaderLoop") ||
					strings.Contains(fn, "(*Raft).heartbeat") || strings.Contains(fn, "(*Raft).pipelineSend") ||
					strings.Contains(fn, "(*Raft).pipelineReplicate") || strings.Contains(fn, "(*Raft).pipelineDecode") {
					leader += secs
					goto next
				}
			}
		}
	next:
	}
	return leader, total
}

// TestScaleSnapshotCatchUp measures how long a holder whose log position was compacted away takes
// to catch up by snapshot. Opt-in: FEDARMS_SCALE_SNAPSHOT_RECORDS=1400000.
func TestScaleSnapshotCatchUp(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("FEDARMS_SCALE_SNAPSHOT_RECORDS"))
	if total == 0 {
		t.Skip("opt-in: set FEDARMS_SCALE_SNAPSHOT_RECORDS")
	}
	tune := func(rc *raft.Config) {
		clusterTune(rc)
		rc.HeartbeatTimeout = time.Second
		rc.ElectionTimeout = time.Second
		rc.LeaderLeaseTimeout = 500 * time.Millisecond
		rc.SnapshotThreshold = 8
		rc.SnapshotInterval = 200 * time.Millisecond
		rc.TrailingLogs = 4
	}
	c := newCluster(t, 3, 1, tune)
	edge := c.members[3]
	c.setCut(edge, true)
	t0 := time.Now()
	c.write(0, total, 2000)
	t.Logf("wrote %d records in %v", total, time.Since(t0).Round(time.Millisecond))
	l := c.leader()
	testutil.WaitFor(t, 30*time.Second, "the leader to compact its log past the edge", func() bool {
		first, _ := l.g.logs.FirstIndex()
		return first > edge.g.State().Stats().AppliedIndex+1
	})
	t1 := time.Now()
	c.setCut(edge, false)
	testutil.WaitFor(t, 10*time.Minute, "every member to converge", c.converged)
	t.Logf("edge caught up by snapshot: %d records in %v", edge.g.State().Stats().Records, time.Since(t1).Round(time.Millisecond))
}
