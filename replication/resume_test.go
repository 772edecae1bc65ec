package replication

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A non-voter cut off for a while is reported when the leader hears from it again, with how long
// it was out, and restarting its replication then brings it up to date.
func TestWatchResumedReportsOutageAndRestartCatchesUp(t *testing.T) {
	c := newCluster(t, 1, 1, clusterTune)
	c.write(0, 100, 50)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	l, edge := c.leader(), c.members[1]
	var mu sync.Mutex
	var outages []time.Duration
	stop := l.g.WatchResumed(func(id raft.ServerID, outage time.Duration) {
		if id != raft.ServerID(edge.id) {
			return
		}
		mu.Lock()
		outages = append(outages, outage)
		mu.Unlock()
		if err := l.g.RestartReplication(id); err != nil {
			t.Errorf("restart replication: %v", err)
		}
	})
	defer stop()
	c.setCut(edge, true)
	cutAt := time.Now()
	for i := 100; time.Since(cutAt) < 3*time.Second; i += 50 {
		c.write(i, i+50, 50)
		time.Sleep(100 * time.Millisecond)
	}
	healAt := time.Now()
	c.setCut(edge, false)
	testutil.WaitFor(t, 20*time.Second, "every member to converge", c.converged)
	t.Logf("converged %v after a %v cut", time.Since(healAt), healAt.Sub(cutAt))
	mu.Lock()
	defer mu.Unlock()
	// A loaded machine may add a short outage of its own (a heartbeat that timed out); the cut must
	// be among those reported.
	if len(outages) == 0 || slices.Max(outages) < 2500*time.Millisecond {
		t.Fatalf("outages reported: %v, want one of about 3 s", outages)
	}
	servers, err := l.g.Servers()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.ID == raft.ServerID(edge.id) && s.Suffrage != raft.Nonvoter {
			t.Fatalf("edge came back as %v", s.Suffrage)
		}
	}
	if len(servers) != 2 {
		t.Fatalf("servers after restart: %+v", servers)
	}
}

// Restarting replication leaves a voter alone.
func TestRestartReplicationLeavesVoters(t *testing.T) {
	c := newCluster(t, 3, 0, clusterTune)
	l := c.waitLeader()
	for _, m := range c.members {
		if m != l {
			if err := l.g.RestartReplication(raft.ServerID(m.id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	servers, err := l.g.Servers()
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers %+v, %v", servers, err)
	}
}
