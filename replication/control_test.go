package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/testutil"
)

// testSigner stands in for the root key: blobs are JSON with an Ed25519 signature, verified the way
// the node's verifier checks transport's signed entries (replication cannot import transport).
type testSigner struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

type testBlob struct {
	Op     string `json:"op"`
	Peer   string `json:"peer"`
	Name   string `json:"name,omitempty"`
	Serial uint64 `json:"serial,omitempty"`
	Sig    []byte `json:"sig"`
}

func newSigner(t *testing.T) testSigner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{pub: pub, priv: priv}
}

func (b testBlob) msg() []byte {
	return fmt.Appendf(nil, "%s|%s|%s|%d", b.Op, b.Peer, b.Name, b.Serial)
}

func (s testSigner) sign(op, peer, name string) []byte { return s.signAt(0, op, peer, name) }

// signAt signs a blob carrying serial.
func (s testSigner) signAt(serial uint64, op, peer, name string) []byte {
	b := testBlob{Op: op, Peer: peer, Name: name, Serial: serial}
	b.Sig = ed25519.Sign(s.priv, b.msg())
	out, _ := json.Marshal(b)
	return out
}

func (s testSigner) read(blob []byte, op string) (testBlob, error) {
	var b testBlob
	if err := json.Unmarshal(blob, &b); err != nil {
		return b, err
	}
	if b.Op != op || !ed25519.Verify(s.pub, b.msg(), b.Sig) {
		return b, errors.New("bad signature")
	}
	return b, nil
}

func (s testSigner) VerifyAdmit(blob []byte) (ControlEntry, error) {
	b, err := s.read(blob, "admit")
	return ControlEntry{PeerID: b.Peer, Name: b.Name, Serial: b.Serial}, err
}

func (s testSigner) VerifyRevoke(blob []byte) (string, error) {
	b, err := s.read(blob, "revoke")
	return b.Peer, err
}

// ctlRecorder is a ControlObserver that keeps what it was told.
type ctlRecorder struct {
	mu       sync.Mutex // guards changes, restored
	changes  []ControlChange
	restored []ControlState
}

func (r *ctlRecorder) ControlApplied(c ControlChange) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

func (r *ctlRecorder) ControlRestored(s ControlState) {
	r.mu.Lock()
	r.restored = append(r.restored, s)
	r.mu.Unlock()
}

func (r *ctlRecorder) seen() ([]ControlChange, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ControlChange(nil), r.changes...), len(r.restored)
}

type ctlMember struct {
	id    string
	dir   string
	c     *Control
	trans *raft.InmemTransport
	obs   *ctlRecorder
}

// clusterRaft is fastRaft for groups of several in-process voters: a leader starved of the CPU for
// 50 ms on a loaded machine steps down in the middle of a test's Apply, so the lease is longer.
func clusterRaft(c *raft.Config) {
	fastRaft(c)
	c.HeartbeatTimeout = 250 * time.Millisecond
	c.ElectionTimeout = 250 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
}

// ctlCluster is a control group of in-process nodes on raft's in-memory transports.
type ctlCluster struct {
	t       *testing.T
	signer  testSigner
	voters  []raft.Server
	members []*ctlMember
	tune    func(*raft.Config)
}

func newCtlCluster(t *testing.T, voters, nonvoters int, tune func(*raft.Config)) *ctlCluster {
	t.Helper()
	cc := &ctlCluster{t: t, signer: newSigner(t), tune: tune}
	for i := 0; i < voters; i++ {
		id := fmt.Sprintf("n%d", i)
		cc.voters = append(cc.voters, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
	}
	for i := 0; i < voters+nonvoters; i++ {
		cc.start(fmt.Sprintf("n%d", i), i < voters)
	}
	t.Cleanup(func() {
		for _, m := range cc.members {
			m.c.Close()
		}
	})
	l := cc.waitLeader()
	for _, m := range cc.members[voters:] {
		if err := l.c.AddNonvoter(raft.ServerID(m.id), raft.ServerAddress(m.id)); err != nil {
			t.Fatal(err)
		}
	}
	return cc
}

func (cc *ctlCluster) start(id string, voter bool) *ctlMember {
	cc.t.Helper()
	_, trans := raft.NewInmemTransport(raft.ServerAddress(id))
	m := &ctlMember{id: id, dir: cc.t.TempDir(), trans: trans, obs: &ctlRecorder{}}
	c, err := OpenControl(ControlConfig{Dir: m.dir, LocalID: id, Transport: trans, Bootstrap: voter, Voters: cc.voters,
		Verifier: cc.signer, Observer: m.obs, Tune: cc.tune})
	if err != nil {
		cc.t.Fatal(err)
	}
	m.c = c
	for _, o := range cc.members {
		o.trans.Connect(raft.ServerAddress(id), trans)
		trans.Connect(raft.ServerAddress(o.id), o.trans)
	}
	cc.members = append(cc.members, m)
	return m
}

func (cc *ctlCluster) waitLeader() *ctlMember {
	cc.t.Helper()
	var l *ctlMember
	testutil.WaitFor(cc.t, 10*time.Second, "a control leader", func() bool {
		for _, m := range cc.members {
			if m.c.IsLeader() {
				l = m
				return true
			}
		}
		return false
	})
	return l
}

// converged waits until every member has applied what the leader has.
func (cc *ctlCluster) converged(l *ctlMember) {
	cc.t.Helper()
	want := l.c.AppliedIndex()
	testutil.WaitFor(cc.t, 10*time.Second, "every member to apply what the leader has", func() bool {
		for _, m := range cc.members {
			if m.c.AppliedIndex() < want {
				return false
			}
		}
		return true
	})
}

func TestControlAdmitAndRevokePropagate(t *testing.T) {
	cc := newCtlCluster(t, 3, 1, clusterRaft)
	l := cc.waitLeader()
	ctx := context.Background()
	admitA := cc.signer.sign("admit", "peer-a", "edge-a")
	res, err := l.c.Admit(ctx, admitA)
	if err != nil || !res.Changed || res.PeerID != "peer-a" || res.Name != "edge-a" {
		t.Fatalf("admit: %+v %v", res, err)
	}
	if _, err := l.c.Admit(ctx, cc.signer.sign("admit", "peer-b", "edge-b")); err != nil {
		t.Fatal(err)
	}
	cc.converged(l)
	for _, m := range cc.members {
		st := m.c.State()
		if len(st.Members) != 2 || st.Members[0].Name != "edge-a" || !bytes.Equal(st.Members[0].Blob, admitA) {
			t.Fatalf("%s: %+v", m.id, st)
		}
		if ch, _ := m.obs.seen(); len(ch) != 2 || ch[0].Op != ControlAdmit || ch[0].PeerID != "peer-a" || ch[1].PeerID != "peer-b" {
			t.Fatalf("%s observer: %+v", m.id, ch)
		}
	}
	// The same admission again changes nothing; a new name for the same peer replaces its entry.
	if res, err := l.c.Admit(ctx, admitA); err != nil || res.Changed {
		t.Fatalf("repeated admit: %+v %v", res, err)
	}
	if _, err := l.c.Admit(ctx, cc.signer.sign("admit", "peer-c", "edge-a")); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("admit of a used name: %v", err)
	}
	res, err = l.c.Revoke(ctx, cc.signer.sign("revoke", "peer-a", ""))
	if err != nil || !res.Changed || res.Name != "edge-a" {
		t.Fatalf("revoke: %+v %v", res, err)
	}
	if res, err := l.c.Revoke(ctx, cc.signer.sign("revoke", "peer-a", "")); err != nil || res.Changed {
		t.Fatalf("repeated revoke: %+v %v", res, err)
	}
	// A revoked peer id is never admitted again, whatever the entry says; its name is free again.
	if _, err := l.c.Admit(ctx, admitA); !errors.Is(err, ErrPeerRevoked) {
		t.Fatalf("re-admit of a revoked peer: %v", err)
	}
	if _, err := l.c.Admit(ctx, cc.signer.sign("admit", "peer-c", "edge-a")); err != nil {
		t.Fatalf("admit under a revoked member's name: %v", err)
	}
	cc.converged(l)
	want := l.c.State()
	for _, m := range cc.members {
		if st := m.c.State(); !reflect.DeepEqual(st, want) {
			t.Fatalf("%s state differs from the leader's:\n%+v\n%+v", m.id, st, want)
		}
		if !m.c.IsRevoked("peer-a") {
			t.Fatalf("%s: peer-a not revoked", m.id)
		}
		if _, ok := m.c.Member("peer-a"); ok {
			t.Fatalf("%s: peer-a still a member", m.id)
		}
		ch, _ := m.obs.seen()
		if len(ch) != 4 || ch[2].Op != ControlRevoke || ch[2].PeerID != "peer-a" || ch[2].Name != "edge-a" {
			t.Fatalf("%s observer: %+v", m.id, ch)
		}
	}
}

// A forged command that reaches the log (a compromised or buggy leader skipping its check) is
// refused by the FSM of every replica, the same way.
func TestControlFSMRefusesForgedCommandsOnEveryNode(t *testing.T) {
	cc := newCtlCluster(t, 3, 1, clusterRaft)
	l := cc.waitLeader()
	ctx := context.Background()
	if _, err := l.c.Admit(ctx, cc.signer.sign("admit", "peer-a", "edge-a")); err != nil {
		t.Fatal(err)
	}
	cc.converged(l)
	before := l.c.State()
	forger := newSigner(t)
	forged := []ControlCommand{
		{Op: ControlAdmit, Blob: forger.sign("admit", "peer-x", "edge-x")},
		{Op: ControlRevoke, Blob: forger.sign("revoke", "peer-a", "")},
		{Op: ControlRevoke, Blob: cc.signer.sign("admit", "peer-a", "edge-a")}, // an admission is no revocation
		{Op: "promote", Blob: cc.signer.sign("admit", "peer-y", "edge-y")},
		{Op: ControlAdmit, Blob: []byte("not json")},
	}
	for _, cmd := range forged {
		// The leader's own check refuses it before the log ...
		if _, err := l.c.Apply(ctx, cmd); !errors.Is(err, ErrControlRefused) {
			t.Fatalf("%s %s: %v, want ErrControlRefused", cmd.Op, cmd.Blob, err)
		}
		// ... and when it is put in the log anyway, every FSM refuses it.
		data, _ := json.Marshal(cmd)
		f := l.c.raft.Apply(data, 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		if err, ok := f.Response().(error); !ok || !errors.Is(err, ErrControlRefused) {
			t.Fatalf("%s in the log: response %v", cmd.Op, f.Response())
		}
	}
	cc.converged(l)
	for _, m := range cc.members {
		st := m.c.State()
		if st.AppliedIndex <= before.AppliedIndex {
			t.Fatalf("%s did not apply the forged entries", m.id)
		}
		if !reflect.DeepEqual(st.Members, before.Members) || len(st.Revoked) != 0 {
			t.Fatalf("%s: forged commands changed the state: %+v", m.id, st)
		}
		if ch, _ := m.obs.seen(); len(ch) != 1 {
			t.Fatalf("%s observer saw %d changes, want the one admission", m.id, len(ch))
		}
	}
}

// snapBuffer is a raft.SnapshotSink in memory.
type snapBuffer struct{ bytes.Buffer }

func (*snapBuffer) ID() string    { return "test" }
func (*snapBuffer) Cancel() error { return nil }
func (*snapBuffer) Close() error  { return nil }

func TestControlSnapshotRoundTrip(t *testing.T) {
	s := newSigner(t)
	src, err := openControlStore(controlStatePath(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	f := newControlFSM(src, s, nil, slog.New(slog.DiscardHandler))
	for i, cmd := range []ControlCommand{
		{Op: ControlAdmit, Blob: s.sign("admit", "p1", "a")},
		{Op: ControlAdmit, Blob: s.sign("admit", "p2", "b")},
		{Op: ControlRevoke, Blob: s.sign("revoke", "p1", "")},
		{Op: ControlRevoke, Blob: s.sign("revoke", "p9", "")}, // never admitted here: still revoked
	} {
		data, _ := json.Marshal(cmd)
		if r, ok := f.Apply(&raft.Log{Index: uint64(i + 1), Term: 2, Type: raft.LogCommand, Data: data}).(ControlResult); !ok || !r.Changed {
			t.Fatalf("entry %d: %+v", i+1, r)
		}
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink snapBuffer
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	dstDir := t.TempDir()
	dst, err := openControlStore(controlStatePath(dstDir))
	if err != nil {
		t.Fatal(err)
	}
	obs := &ctlRecorder{}
	g := newControlFSM(dst, s, obs, slog.New(slog.DiscardHandler))
	// The destination had a member of its own: a restore replaces, it does not merge.
	data, _ := json.Marshal(ControlCommand{Op: ControlAdmit, Blob: s.sign("admit", "p7", "z")})
	g.Apply(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: data})
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	want := src.state()
	if got := dst.state(); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored\n%+v\nwant\n%+v", got, want)
	}
	if _, n := obs.seen(); n != 1 {
		t.Fatalf("observer told of %d restores", n)
	}
	// The restored state is on disk, not only in memory.
	dst.close()
	if got, err := ReadControlState(dstDir); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v (%v)\nwant\n%+v", got, err, want)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte(`{"format":"other"}`)))); err == nil {
		t.Fatal("restored a snapshot of another format")
	}
}

// A member that joins after the leader compacted its log catches up from a snapshot.
func TestControlLateMemberCatchesUpBySnapshot(t *testing.T) {
	cc := newCtlCluster(t, 3, 0, func(c *raft.Config) {
		clusterRaft(c)
		c.TrailingLogs = 1
		c.SnapshotThreshold = 1
	})
	l := cc.waitLeader()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := l.c.Admit(ctx, cc.signer.sign("admit", fmt.Sprintf("peer-%d", i), fmt.Sprintf("edge-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.c.Revoke(ctx, cc.signer.sign("revoke", "peer-0", "")); err != nil {
		t.Fatal(err)
	}
	if err := l.c.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if first, _ := l.c.logs.FirstIndex(); first <= 2 {
		t.Fatalf("log not compacted (first index %d)", first)
	}
	late := cc.start("late", false)
	if err := l.c.AddNonvoter("late", "late"); err != nil {
		t.Fatal(err)
	}
	cc.converged(l)
	if got, want := late.c.State(), l.c.State(); !reflect.DeepEqual(got.Members, want.Members) || !reflect.DeepEqual(got.Revoked, want.Revoked) {
		t.Fatalf("late member\n%+v\nleader\n%+v", got, want)
	}
	if _, n := late.obs.seen(); n == 0 {
		t.Fatal("late member caught up without a snapshot restore")
	}
}

func TestControlRestartKeepsStateAndDoesNotReapply(t *testing.T) {
	s := newSigner(t)
	dir := t.TempDir()
	open := func(obs ControlObserver) *Control {
		c, err := OpenControl(ControlConfig{Dir: dir, LocalID: "n1", Bootstrap: true, Verifier: s, Observer: obs, Tune: fastRaft})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.WaitForLeader(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open(nil)
	ctx := context.Background()
	for _, b := range [][]byte{s.sign("admit", "p1", "a"), s.sign("admit", "p2", "b")} {
		if _, err := c.Admit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Revoke(ctx, s.sign("revoke", "p1", "")); err != nil {
		t.Fatal(err)
	}
	want := c.State()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	read, err := ReadControlState(dir)
	if err != nil || !reflect.DeepEqual(read, want) {
		t.Fatalf("read without starting:\n%+v (%v)\nwant\n%+v", read, err, want)
	}
	obs := &ctlRecorder{}
	c = open(obs)
	defer c.Close()
	if got := c.State(); !reflect.DeepEqual(got.Members, want.Members) || !reflect.DeepEqual(got.Revoked, want.Revoked) {
		t.Fatalf("after restart\n%+v\nwant\n%+v", got, want)
	}
	if _, err := c.Admit(ctx, s.sign("admit", "p1", "a")); !errors.Is(err, ErrPeerRevoked) {
		t.Fatalf("revocation forgotten across a restart: %v", err)
	}
	// Raft replays the log after a restart; only the new admission may reach the observer.
	if _, err := c.Admit(ctx, s.sign("admit", "p3", "c")); err != nil {
		t.Fatal(err)
	}
	if ch, _ := obs.seen(); len(ch) != 1 || ch[0].PeerID != "p3" {
		t.Fatalf("observer after restart saw %+v, want only the admission of p3", ch)
	}
	if got, err := ReadControlState(t.TempDir()); err != nil || got.AppliedIndex != 0 || len(got.Members) != 0 {
		t.Fatalf("empty dir: %+v %v", got, err)
	}
	if _, err := OpenControl(ControlConfig{Dir: t.TempDir(), LocalID: "n1"}); err == nil {
		t.Fatal("opened a control group without a verifier")
	}
}
