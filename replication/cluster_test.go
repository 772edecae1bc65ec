package replication

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

// member is one node's group in an in-process cluster on raft's in-memory transports.
type member struct {
	id    string
	dir   string
	voter bool
	g     *Group
	trans *raft.InmemTransport
}

// cluster is a shard's group across several in-process nodes; cut and heal act on the transports.
type cluster struct {
	t       *testing.T
	mu      sync.Mutex // guards members' g and trans
	members []*member
	tune    func(*raft.Config)
	cut     map[string]bool // members cut off from everyone
	// configure, when set, adjusts a member's group config before it starts (a release, a fault).
	configure func(m *member, gc *GroupConfig)
}

func newCluster(t *testing.T, voters, nonvoters int, tune func(*raft.Config)) *cluster {
	t.Helper()
	return newClusterWith(t, voters, nonvoters, tune, nil)
}

// newClusterWith is newCluster with configure applied to each member before it first starts.
func newClusterWith(t *testing.T, voters, nonvoters int, tune func(*raft.Config), configure func(m *member, gc *GroupConfig)) *cluster {
	t.Helper()
	c := &cluster{t: t, tune: tune, cut: map[string]bool{}, configure: configure}
	var servers []raft.Server
	for i := 0; i < voters+nonvoters; i++ {
		m := &member{id: fmt.Sprintf("n%d", i), dir: t.TempDir(), voter: i < voters}
		if m.voter {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.id), Address: raft.ServerAddress(m.id)})
		}
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		c.start(m, servers)
	}
	c.waitLeader()
	for _, m := range c.members[voters:] {
		// With the short timeouts of these tests leadership can move under a loaded machine
		// between finding the leader and asking it: ask the new one.
		var err error
		for attempt := 0; attempt < 100; attempt++ {
			if err = c.waitLeader().g.AddNonvoter(raft.ServerID(m.id), raft.ServerAddress(m.id)); !errors.Is(err, ErrNotLeader) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			if m.g != nil {
				m.g.Close()
			}
		}
	})
	return c
}

func (c *cluster) start(m *member, voters []raft.Server) {
	c.t.Helper()
	_, trans := raft.NewInmemTransport(raft.ServerAddress(m.id))
	gc := GroupConfig{Shard: "europe", Dir: m.dir, LocalID: m.id, Transport: trans,
		Bootstrap: m.voter, Voters: voters, Tune: c.tune}
	if c.configure != nil {
		c.configure(m, &gc)
	}
	g, err := OpenGroup(gc)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	m.g, m.trans = g, trans
	c.mu.Unlock()
	c.wire()
}

// wire connects every pair of running, uncut members in both directions.
func (c *cluster) wire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.members {
		for _, b := range c.members {
			if a == b || a.trans == nil || b.trans == nil {
				continue
			}
			if c.cut[a.id] || c.cut[b.id] {
				a.trans.Disconnect(raft.ServerAddress(b.id))
				continue
			}
			a.trans.Connect(raft.ServerAddress(b.id), b.trans)
		}
	}
}

func (c *cluster) setCut(m *member, cut bool) {
	c.mu.Lock()
	c.cut[m.id] = cut
	c.mu.Unlock()
	c.wire()
}

// kill stops a member abruptly (its files stay as they are).
func (c *cluster) kill(m *member) {
	c.mu.Lock()
	g := m.g
	m.g, m.trans = nil, nil
	c.mu.Unlock()
	g.Close()
	c.wire()
}

func (c *cluster) leader() *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.g != nil && m.g.IsLeader() {
			return m
		}
	}
	return nil
}

func (c *cluster) waitLeader() *member {
	c.t.Helper()
	var l *member
	testutil.WaitFor(c.t, 10*time.Second, "a leader", func() bool { l = c.leader(); return l != nil })
	return l
}

// write applies records FR-<from>..FR-<to-1> on the leader, in batches.
func (c *cluster) write(from, to, batch int) {
	c.t.Helper()
	for i := from; i < to; i += batch {
		var recs []record.Record
		for j := i; j < min(i+batch, to); j++ {
			recs = append(recs, rec(fmt.Sprintf("FR-%07d", j), "FR", fmt.Sprintf("S%d", j)))
		}
		var err error
		for attempt := 0; attempt < 100; attempt++ {
			l := c.waitLeader()
			_, err = l.g.Apply(context.Background(), &Command{Op: OpUpsert, Principal: Principal{Agency: "FR-NCB", Country: "FR"}, Records: recs})
			if err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// converged reports whether every running member holds the leader's digest and count.
func (c *cluster) converged() bool {
	l := c.leader()
	if l == nil {
		return false
	}
	want := l.g.State().Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.g == nil {
			continue
		}
		st := m.g.State().Stats()
		if st.Digest != want.Digest || st.Records != want.Records {
			return false
		}
	}
	return true
}

func clusterTune(c *raft.Config) {
	fastRaft(c)
	c.HeartbeatTimeout = 100 * time.Millisecond
	c.ElectionTimeout = 100 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
}

func TestClusterReplicatesToNonvoters(t *testing.T) {
	c := newCluster(t, 3, 2, clusterTune)
	c.write(0, 2000, 250)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	for _, m := range c.members {
		st := m.g.Status()
		wantRole := "nonvoter"
		if m.voter {
			wantRole = "voter"
		}
		if st.Records != 2000 || st.Role != wantRole || st.Leader == "" {
			t.Fatalf("%s: %+v (want role %s)", m.id, st, wantRole)
		}
	}
}

func TestClusterNonvoterCutThenHealedCatchesUp(t *testing.T) {
	c := newCluster(t, 3, 2, clusterTune)
	c.write(0, 500, 100)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	edge := c.members[4]
	c.setCut(edge, true)
	c.write(500, 1500, 100)
	if got := edge.g.State().Stats().Records; got != 500 {
		t.Fatalf("cut member has %d records", got)
	}
	// It keeps serving its copy and knows its last contact is getting old.
	time.Sleep(300 * time.Millisecond)
	if _, contact := edge.g.Freshness(); time.Since(contact) < 250*time.Millisecond {
		t.Fatalf("cut member's last contact is fresh: %v", contact)
	}
	t0 := time.Now()
	c.setCut(edge, false)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	t.Logf("converged %v after heal", time.Since(t0))
}

func TestClusterLeaderKilledNewLeaderNothingAcknowledgedLost(t *testing.T) {
	c := newCluster(t, 3, 1, clusterTune)
	c.write(0, 1000, 100)
	old := c.leader()
	t0 := time.Now()
	c.kill(old)
	var nl *member
	testutil.WaitFor(t, 5*time.Second, "a new leader", func() bool { nl = c.leader(); return nl != nil && nl != old })
	t.Logf("new leader %s after %v", nl.id, time.Since(t0))
	c.write(1000, 1500, 100)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	if got := nl.g.State().Stats().Records; got != 1500 {
		t.Fatalf("new leader holds %d records, want 1500", got)
	}
	// The old leader comes back and catches up.
	c.start(old, nil)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
}

func TestClusterFarBehindMemberCatchesUpBySnapshot(t *testing.T) {
	tune := func(rc *raft.Config) {
		clusterTune(rc)
		rc.SnapshotThreshold = 4
		rc.SnapshotInterval = 50 * time.Millisecond
		rc.TrailingLogs = 2
	}
	c := newCluster(t, 3, 1, tune)
	edge := c.members[3]
	c.write(0, 200, 50)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	c.setCut(edge, true)
	c.write(200, 3000, 100)
	// Wait until the leader has compacted its log past the edge's position.
	l := c.leader()
	testutil.WaitFor(t, 10*time.Second, "the leader to compact its log past the edge", func() bool {
		first, _ := l.g.logs.FirstIndex()
		return first > edge.g.State().Stats().AppliedIndex+1
	})
	c.setCut(edge, false)
	testutil.WaitFor(t, 15*time.Second, "every member to converge", c.converged)
	snaps, _ := filepath.Glob(filepath.Join(edge.dir, "snapshots", "*"))
	if len(snaps) == 0 {
		t.Fatal("edge caught up without a snapshot")
	}
	if r, ok, _ := edge.g.State().Get("FR-0002999"); !ok || !strings.HasPrefix(r.Serial, "S2999") {
		t.Fatalf("restored record %+v", r)
	}
}
