package transport

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/testutil"
)

// countFSM records every applied command.
type countFSM struct {
	mu      sync.Mutex
	applied []string // guarded by mu
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, string(l.Data))
	return len(f.applied)
}

func (f *countFSM) has(cmd string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.applied {
		if c == cmd {
			return true
		}
	}
	return false
}

// Snapshot is every applied command, one a line.
func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return countSnapshot(strings.Join(f.applied, "\n")), nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = strings.Split(string(b), "\n")
	return nil
}

type countSnapshot string

func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := io.WriteString(sink, string(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnapshot) Release() {}

type raftNode struct {
	n   *node
	r   *raft.Raft
	fsm *countFSM
}

// startRaft runs one raft group named group on each node, bootstrapped with all of them as voters.
func startRaft(t *testing.T, f *fed, group string, nodes []*node) []*raftNode {
	t.Helper()
	return startGuardedRaft(t, f, group, nodes, nil)
}

// startGuardedRaft is startRaft with each node's layer guarded by auth (none when nil).
func startGuardedRaft(t *testing.T, f *fed, group string, nodes []*node, auth RaftAuthorizer) []*raftNode {
	t.Helper()
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n.name), Address: ServerAddress(n.ident.ID)})
	}
	var out []*raftNode
	for _, n := range nodes {
		out = append(out, runRaft(t, f, group, n, servers, auth))
	}
	return out
}

// runRaft runs n's member of group, bootstrapped with servers unless servers is nil (a member the
// leader adds later), its layer guarded by auth (none when nil).
func runRaft(t *testing.T, f *fed, group string, n *node, servers []raft.Server, auth RaftAuthorizer) *raftNode {
	t.Helper()
	return runRaftLayer(t, f, n, servers, RaftLayerConfig{Group: group, Authorizer: auth}, nil)
}

// runRaftLayer is runRaft with the layer configured by cfg; ready, when set, runs once the layer is
// registered and before raft starts.
func runRaftLayer(t *testing.T, f *fed, n *node, servers []raft.Server, cfg RaftLayerConfig, ready func()) *raftNode {
	t.Helper()
	group := cfg.Group
	layer, err := NewRaftLayerWithConfig(n.host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ready != nil {
		ready()
	}
	trans := raft.NewNetworkTransport(layer, 3, 2*time.Second, f.logs)
	if got, want := trans.LocalAddr(), ServerAddress(n.ident.ID); got != want {
		t.Fatalf("transport address %q, want the peer id %q", got, want)
	}
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.name)
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.CommitTimeout = 20 * time.Millisecond
	c.TrailingLogs = 10
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: group + "/" + n.name, Output: f.logs, Level: hclog.Info})
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	if servers != nil {
		if err := raft.BootstrapCluster(c, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
	}
	fsm := &countFSM{}
	r, err := raft.NewRaft(c, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	// Close the host first: it aborts raft's in-flight dials, which raft's shutdown waits for.
	t.Cleanup(func() { n.host.Close(); r.Shutdown().Error() })
	return &raftNode{n: n, r: r, fsm: fsm}
}

func leaderOf(nodes []*raftNode) *raftNode {
	for _, rn := range nodes {
		if rn.r.State() == raft.Leader {
			return rn
		}
	}
	return nil
}

func TestRaftOverLibp2pElectsAppliesAndFailsOver(t *testing.T) {
	f := newFed(t)
	var nodes []*node
	for i := range 3 {
		nodes = append(nodes, f.start("central-"+strconv.Itoa(i), RoleCentral, nil))
	}
	rafts := startRaft(t, f, "control", nodes)
	var leader *raftNode
	testutil.WaitFor(t, 10*time.Second, "a leader", func() bool { leader = leaderOf(rafts); return leader != nil })
	if err := leader.r.Apply([]byte("first"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "every node to apply", func() bool {
		for _, rn := range rafts {
			if !rn.fsm.has("first") {
				return false
			}
		}
		return true
	})

	// The leader's host dies; its raft keeps running but can reach no one.
	leader.n.host.Close()
	var rest []*raftNode
	for _, rn := range rafts {
		if rn != leader {
			rest = append(rest, rn)
		}
	}
	var next *raftNode
	testutil.WaitFor(t, 10*time.Second, "a new leader among the survivors", func() bool { next = leaderOf(rest); return next != nil })
	if err := next.r.Apply([]byte("second"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply on new leader: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "survivors to apply", func() bool { return rest[0].fsm.has("second") && rest[1].fsm.has("second") })
	if leader.fsm.has("second") {
		t.Fatal("the cut-off old leader applied an entry committed without it")
	}
}

// Raft runs unchanged through guarded layers: honest voters elect, replicate and fail over without
// a single refusal.
func TestRaftThroughGuardedLayers(t *testing.T) {
	f := newFed(t)
	auth := &testAuthorizer{voters: map[peer.ID]string{}}
	var nodes []*node
	for i := range 3 {
		n := f.start("central-"+strconv.Itoa(i), RoleCentral, nil)
		auth.voters[n.ident.ID] = n.name
		nodes = append(nodes, n)
	}
	rafts := startGuardedRaft(t, f, "control", nodes, auth)
	var leader *raftNode
	testutil.WaitFor(t, 10*time.Second, "a leader", func() bool { leader = leaderOf(rafts); return leader != nil })
	for i := range 50 {
		if err := leader.r.Apply([]byte("cmd-"+strconv.Itoa(i)), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "every node to apply", func() bool {
		for _, rn := range rafts {
			if !rn.fsm.has("cmd-49") {
				return false
			}
		}
		return true
	})
	// A non-voter that joins after the log was compacted gets the state by InstallSnapshot, its
	// data streamed through the guard.
	if err := leader.r.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	late := f.start("edge", RoleEdge, nil)
	lateRaft := runRaft(t, f, "control", late, nil, auth)
	if err := leader.r.AddNonvoter("edge", ServerAddress(late.ident.ID), 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("add non-voter: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the late non-voter to restore the snapshot", func() bool { return lateRaft.fsm.has("cmd-1") })
	if err := leader.r.LeadershipTransfer().Error(); err != nil { // TimeoutNow through the guard
		t.Fatalf("leadership transfer: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "a new leader", func() bool { l := leaderOf(rafts); return l != nil && l != leader })
	if r := auth.refused(); len(r) > 0 {
		t.Fatalf("honest voters refused: %v", r)
	}
	auth.mu.Lock()
	seen := map[RaftRPCType]bool{}
	for _, r := range auth.seen {
		seen[r.Type] = true
	}
	auth.mu.Unlock()
	for _, typ := range []RaftRPCType{RaftAppendEntries, RaftRequestVote, RaftInstallSnapshot, RaftTimeoutNow} {
		if !seen[typ] {
			t.Errorf("no %s went through the guard", typ)
		}
	}
}

// Two groups share one host pair: each stream reaches the layer of the group it names, and a
// stream for a group the remote does not run is refused.
func TestRaftLayersDemultiplexGroups(t *testing.T) {
	f := newFed(t)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleCentral, nil)
	layers := map[string]*RaftLayer{}
	for _, g := range []string{"control", "shard-europe"} {
		la, err := NewRaftLayerWithConfig(a.host, RaftLayerConfig{Group: g, NoResume: true})
		if err != nil {
			t.Fatal(err)
		}
		lb, err := NewRaftLayerWithConfig(b.host, RaftLayerConfig{Group: g, NoResume: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { la.Close(); lb.Close() })
		layers[g] = lb
	}
	if _, err := NewRaftLayer(a.host, "control"); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("second layer for a group: %v", err)
	}
	for g, lb := range layers {
		la := a.host.raftGroups[g]
		c, err := la.Dial(ServerAddress(b.ident.ID), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		go c.Write([]byte(g))
		got := make(chan string, 1)
		go func() {
			in, err := lb.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			buf := make([]byte, len(g))
			io.ReadFull(in, buf)
			if in.RemoteAddr().String() != a.ident.ID.String() {
				got <- "remote addr " + in.RemoteAddr().String()
				return
			}
			got <- string(buf)
		}()
		select {
		case s := <-got:
			if s != g {
				t.Fatalf("group %s layer received %q", g, s)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("group %s layer received nothing", g)
		}
		c.Close()
	}

	stray, err := NewRaftLayerWithConfig(a.host, RaftLayerConfig{Group: "shard-asia", NoResume: true}) // b runs no such group
	if err != nil {
		t.Fatal(err)
	}
	c, err := stray.Dial(ServerAddress(b.ident.ID), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a stream for an unknown group was not reset: %v", err)
	}

	if _, err := stray.Dial("not-a-peer-id", time.Second); err == nil {
		t.Fatal("dialled a raft address that is not a peer id")
	}
	stray.Close()
	if _, err := stray.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// The fault switch isolates the leader while its process keeps running: the others elect a new
// leader and commit without it, and after Rejoin the old leader catches up from the log.
func TestRaftLeaderIsolatedByFaultSwitchCatchesUp(t *testing.T) {
	f := newFed(t)
	f.faults = NewFaults(5)
	var nodes []*node
	for i := range 3 {
		nodes = append(nodes, f.start("central-"+strconv.Itoa(i), RoleCentral, nil))
	}
	rafts := startRaft(t, f, "shard-europe", nodes)
	var leader *raftNode
	testutil.WaitFor(t, 10*time.Second, "a leader", func() bool { leader = leaderOf(rafts); return leader != nil })

	f.faults.Isolate(leader.n.ident.ID)
	var rest []*raftNode
	for _, rn := range rafts {
		if rn != leader {
			rest = append(rest, rn)
		}
	}
	var next *raftNode
	testutil.WaitFor(t, 10*time.Second, "a new leader among the others", func() bool { next = leaderOf(rest); return next != nil })
	if err := next.r.Apply([]byte("during the cut"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply during the cut: %v", err)
	}
	if leader.fsm.has("during the cut") {
		t.Fatal("the isolated leader applied an entry during the cut")
	}
	f.faults.Rejoin(leader.n.ident.ID)
	testutil.WaitFor(t, 10*time.Second, "the old leader to catch up after rejoining", func() bool {
		return leader.fsm.has("during the cut")
	})
}
