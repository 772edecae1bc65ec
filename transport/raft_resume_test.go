package transport

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/testutil"
)

// snapshotLink is a sender a and a receiver b of group "g" with raft's NetworkTransport on each,
// b keeping partial files in dir; b's consumer reads every snapshot whole and keeps its digest.
type snapshotLink struct {
	a, b     *node
	ta       *raft.NetworkTransport
	la, lb   *RaftLayer
	dir      string
	partials *SnapshotPartials
	meter    *testMeter
	auth     *testAuthorizer

	mu        sync.Mutex
	digests   [][32]byte
	transfers []SnapshotTransfer // the receiver's
}

func newSnapshotLink(t *testing.T, group string) *snapshotLink {
	t.Helper()
	f := newFed(t)
	l := &snapshotLink{meter: &testMeter{}, dir: t.TempDir()}
	l.a = f.start("a", RoleCentral, nil)
	l.b = f.start("b", RoleEdge, func(c *Config) { c.RaftMeter = l.meter })
	var err error
	if l.partials, err = NewSnapshotPartials(l.dir, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	l.la = l.layer(t, l.a, RaftLayerConfig{Group: group})
	l.ta = raft.NewNetworkTransport(l.la, 2, 10*time.Second, io.Discard)
	l.auth = &testAuthorizer{voters: map[peer.ID]string{l.a.ident.ID: "a"}}
	l.lb = l.layer(t, l.b, RaftLayerConfig{Group: group, Authorizer: l.auth, Partials: l.partials, OnSnapshot: func(st SnapshotTransfer) {
		l.mu.Lock()
		l.transfers = append(l.transfers, st)
		l.mu.Unlock()
	}})
	tb := raft.NewNetworkTransport(l.lb, 2, 10*time.Second, io.Discard)
	t.Cleanup(func() { l.ta.Close(); tb.Close() })
	go l.consume(tb)
	return l
}

func (l *snapshotLink) layer(t *testing.T, n *node, cfg RaftLayerConfig) *RaftLayer {
	t.Helper()
	layer, err := NewRaftLayerWithConfig(n.host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// consume answers every InstallSnapshot once its data is read, as raft would.
func (l *snapshotLink) consume(tb *raft.NetworkTransport) {
	for rpc := range tb.Consumer() {
		req, ok := rpc.Command.(*raft.InstallSnapshotRequest)
		if !ok {
			rpc.Respond(nil, errors.New("unexpected rpc"))
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, rpc.Reader)
		if err == nil && n != req.Size {
			err = fmt.Errorf("read %d of %d bytes", n, req.Size) // as raft checks
		}
		if err == nil {
			var d [32]byte
			copy(d[:], h.Sum(nil))
			l.mu.Lock()
			l.digests = append(l.digests, d)
			l.mu.Unlock()
		}
		rpc.Respond(&raft.InstallSnapshotResponse{Term: 1, Success: err == nil}, err)
	}
}

// send installs data as the snapshot at index on b; cutAt > 0 fails raft's reader after that
// many bytes, as a leader whose link dies would stop.
func (l *snapshotLink) send(index uint64, data []byte, cutAt int) error {
	var r io.Reader = bytes.NewReader(data)
	if cutAt > 0 {
		r = io.MultiReader(bytes.NewReader(data[:cutAt]), errReader{})
	}
	return l.installFrom(l.installRequest(index, int64(len(data))), r)
}

// installRequest is a's InstallSnapshot of size bytes at index.
func (l *snapshotLink) installRequest(index uint64, size int64) *raft.InstallSnapshotRequest {
	return &raft.InstallSnapshotRequest{RPCHeader: header("a", l.a.ident.ID), SnapshotVersion: 1, Term: 3,
		LastLogIndex: index, LastLogTerm: 2, Size: size}
}

// installFrom sends req with its data read from r.
func (l *snapshotLink) installFrom(req *raft.InstallSnapshotRequest, r io.Reader) error {
	var resp raft.InstallSnapshotResponse
	err := l.ta.InstallSnapshot("b", ServerAddress(l.b.ident.ID), req, &resp, r)
	if err == nil && !resp.Success {
		err = errors.New("install refused")
	}
	return err
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("link cut") }

// last waits for the receiver's report of the nth transfer.
func (l *snapshotLink) last(t *testing.T, n int) SnapshotTransfer {
	t.Helper()
	var st SnapshotTransfer
	testutil.WaitFor(t, 10*time.Second, "the receiver's report", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.transfers) < n {
			return false
		}
		st = l.transfers[n-1]
		return true
	})
	return st
}

func (l *snapshotLink) digest(t *testing.T, n int) [32]byte {
	t.Helper()
	var d [32]byte
	testutil.WaitFor(t, 10*time.Second, "the digest", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.digests) < n {
			return false
		}
		d = l.digests[n-1]
		return true
	})
	return d
}

// A snapshot cut at 90% and sent again: only the rest crosses the link, and raft reads the whole
// snapshot, byte-identical; the partial file is gone once it has.
func TestRaftResumeSendsOnlyTheRest(t *testing.T) {
	l := newSnapshotLink(t, "shard/europe")
	data := recordLike(4<<20, 7)
	if err := l.send(50, data, len(data)*9/10); err == nil {
		t.Fatal("a cut transfer succeeded")
	}
	cut := l.last(t, 1)
	if cut.Err == nil || len(l.partials.Files()) != 1 {
		t.Fatalf("after the cut: %+v, partial files %v", cut, l.partials.Files())
	}
	wireCut := l.meter.get("shard/europe", l.a, "received")
	if err := l.send(50, data, 0); err != nil {
		t.Fatal(err)
	}
	st := l.last(t, 2)
	wireRest := l.meter.get("shard/europe", l.a, "received") - wireCut
	t.Logf("cut after %d of %d bytes: %d held; resent %d (%d on the wire, against %d for the part before the cut)",
		len(data)*9/10, len(data), st.Resumed, st.Sent, wireRest, wireCut)
	if st.Err != nil || st.Resumed+st.Sent != int64(len(data)) {
		t.Fatalf("second transfer: %+v", st)
	}
	// Raft's writer and the sender's record buffer each hold up to 256 KiB when the cut comes.
	if st.Resumed < int64(len(data))*9/10-3*resumeChunk {
		t.Fatalf("resumed %d bytes of %d cut at 90%%", st.Resumed, len(data))
	}
	if wireRest*3 > wireCut {
		t.Fatalf("the rest took %d bytes on the wire, the part before the cut %d", wireRest, wireCut)
	}
	if l.digest(t, 1) != sha256.Sum256(data) {
		t.Fatal("raft read another snapshot than the one sent")
	}
	if files := l.partials.Files(); len(files) != 0 {
		t.Fatalf("partial files after the install: %v", files)
	}
}

// corruptPartial cuts a transfer of data at 90% and returns the path of its partial file.
func cutPartial(t *testing.T, l *snapshotLink, index uint64, data []byte) string {
	t.Helper()
	if err := l.send(index, data, len(data)*9/10); err == nil {
		t.Fatal("a cut transfer succeeded")
	}
	l.last(t, 1)
	files := l.partials.Files()
	if len(files) != 1 {
		t.Fatalf("partial files after the cut: %v", files)
	}
	return filepath.Join(l.dir, files[0])
}

// A chunk of the partial file that does not match its checksum throws the file away: the snapshot
// is sent whole, and raft reads the sender's bytes.
func TestRaftResumeCorruptPartialIsResentWhole(t *testing.T) {
	l := newSnapshotLink(t, "g")
	data := recordLike(2<<20, 8)
	path := cutPartial(t, l, 9, data)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 3*resumeChunk); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := l.send(9, data, 0); err != nil {
		t.Fatal(err)
	}
	if st := l.last(t, 2); st.Resumed != 0 || st.Sent != int64(len(data)) || st.Err != nil {
		t.Fatalf("after a corrupt partial: %+v, want the whole snapshot sent", st)
	}
	if l.digest(t, 1) != sha256.Sum256(data) {
		t.Fatal("raft read another snapshot than the one sent")
	}
}

// A partial file put under another group's name (or another snapshot's) is not believed: its
// header names what it holds.
func TestRaftResumeDoesNotTakeAnotherGroupsFile(t *testing.T) {
	l := newSnapshotLink(t, "shard/africa")
	data := recordLike(2<<20, 9)
	path := cutPartial(t, l, 9, data)
	other := snapshotID{group: "shard/africa", term: 2, index: 10, size: int64(len(data)), hash0: sha256.Sum256(data[:resumeChunk])}
	if err := os.Rename(path, filepath.Join(l.dir, other.name())); err != nil {
		t.Fatal(err)
	}
	if err := l.send(10, data, 0); err != nil {
		t.Fatal(err)
	}
	if st := l.last(t, 2); st.Resumed != 0 || st.Err != nil {
		t.Fatalf("a file renamed into another snapshot's name: %+v, want nothing resumed", st)
	}
	if l.digest(t, 1) != sha256.Sum256(data) {
		t.Fatal("raft read another snapshot than the one sent")
	}
}

// A newer snapshot of the group supersedes the partial file of an older one.
func TestRaftResumeNewerSnapshotSupersedesPartial(t *testing.T) {
	l := newSnapshotLink(t, "g")
	old := cutPartial(t, l, 9, recordLike(2<<20, 10))
	newer := recordLike(1<<20, 11)
	if err := l.send(20, newer, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the older snapshot's partial file after a newer install: %v", err)
	}
	if files := l.partials.Files(); len(files) != 0 {
		t.Fatalf("partial files: %v", files)
	}
}

// The partial directory holds at most its count of files; a snapshot over the size cap is received
// without one.
func TestSnapshotPartialsBounds(t *testing.T) {
	dir := t.TempDir()
	s, err := NewSnapshotPartials(dir, 2, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range []string{"a", "b", "c"} {
		p, held, err := s.open(snapshotID{group: g, term: 1, index: uint64(i), size: 1 << 20})
		if err != nil || len(held) != 0 {
			t.Fatalf("open %s: %v, %d held", g, err, len(held))
		}
		if err := p.writeChunk(0, make([]byte, resumeChunk)); err != nil {
			t.Fatal(err)
		}
		p.close(false)
		time.Sleep(10 * time.Millisecond) // distinct modification times
	}
	if files := s.Files(); len(files) != 2 {
		t.Fatalf("files %v, want the 2 newest", files)
	}
	if _, _, err := s.open(snapshotID{group: "d", term: 1, index: 1, size: 1<<20 + 1}); err == nil {
		t.Fatal("a snapshot over the size cap got a partial file")
	}
	if _, _, err := s.open(snapshotID{group: "../../x", term: 1, index: 1, size: 100}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	for _, e := range ents {
		if e.Name() == "x" {
			t.Fatal("a group name reached outside the directory")
		}
	}
}

// Real raft: a late non-voter's snapshot install is cut (the fault switch) once most of it has
// arrived; raft sends it again, only the rest crosses, and the non-voter restores the state.
func TestRaftResumeInstallsSnapshotAfterACut(t *testing.T) {
	f := newFed(t)
	f.faults = NewFaults(1)
	dir := t.TempDir()
	partials, err := NewSnapshotPartials(dir, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaderNode := f.start("central-0", RoleCentral, nil)
	servers := []raft.Server{{Suffrage: raft.Voter, ID: "central-0", Address: ServerAddress(leaderNode.ident.ID)}}
	leader := runRaftLayer(t, f, leaderNode, servers, RaftLayerConfig{Group: "g"}, nil)
	testutil.WaitFor(t, 10*time.Second, "a leader", func() bool { return leader.r.State() == raft.Leader })
	// About 4 MiB of commands that compress to about half: a few seconds at the late node's cap.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 64 {
		cmd := make([]byte, 64<<10)
		for j := range cmd {
			cmd[j] = 'a' + byte(rng.IntN(16))
		}
		if err := leader.r.Apply(append([]byte(fmt.Sprintf("cmd-%d-", i)), cmd...), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := leader.r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []SnapshotTransfer
	late := f.start("edge", RoleEdge, func(c *Config) { c.RaftBandwidth = 1 << 20 })
	lateRaft := runRaftLayer(t, f, late, nil, RaftLayerConfig{Group: "g", Partials: partials, OnSnapshot: func(st SnapshotTransfer) {
		mu.Lock()
		got = append(got, st)
		mu.Unlock()
	}}, nil)
	if err := leader.r.AddNonvoter("edge", ServerAddress(late.ident.ID), 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	// Cut once the partial file holds most of the snapshot, heal a moment later.
	testutil.WaitFor(t, 30*time.Second, "most of the snapshot in the partial file", func() bool {
		files := partials.Files()
		if len(files) != 1 {
			return false
		}
		info, err := os.Stat(filepath.Join(dir, files[0]))
		return err == nil && info.Size() > 3<<20
	})
	f.faults.Cut(leaderNode.ident.ID, late.ident.ID)
	time.Sleep(300 * time.Millisecond)
	f.faults.Heal(leaderNode.ident.ID, late.ident.ID)
	testutil.WaitFor(t, 60*time.Second, "the late non-voter to restore the snapshot", func() bool {
		lateRaft.fsm.mu.Lock()
		defer lateRaft.fsm.mu.Unlock()
		return len(lateRaft.fsm.applied) >= 64
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("transfers at the non-voter: %+v", got)
	if len(got) < 2 || got[0].Err == nil {
		t.Fatalf("transfers %+v, want a cut one and then the rest", got)
	}
	done := got[len(got)-1]
	if done.Err != nil || done.Resumed < 3<<20 || done.Resumed+done.Sent != done.Size {
		t.Fatalf("the last transfer %+v, want more than 3 MiB resumed", done)
	}
	lateRaft.fsm.mu.Lock()
	defer lateRaft.fsm.mu.Unlock()
	leader.fsm.mu.Lock()
	defer leader.fsm.mu.Unlock()
	if !slices.Equal(lateRaft.fsm.applied, leader.fsm.applied) {
		t.Fatalf("the non-voter restored %d commands, the leader has %d", len(lateRaft.fsm.applied), len(leader.fsm.applied))
	}
}

// A newer snapshot of the group whose bytes mostly match an older one's partial file (the shard
// snapshotted again at a later index, its records unchanged) is sent only where it differs: the
// receiver offers the older file's chunks, and keeps the new file whole from both.
func TestRaftResumeSeedsFromTheGroupsOlderSnapshot(t *testing.T) {
	l := newSnapshotLink(t, "shard/europe")
	older := recordLike(4<<20, 12)
	cutPartial(t, l, 47, older)
	newer := append([]byte("FEDSNAP1 index 49"), older[17:]...)
	if err := l.send(49, newer, 0); err != nil {
		t.Fatal(err)
	}
	st := l.last(t, 2)
	t.Logf("newer snapshot: %d of %d bytes taken from the older one's partial file, %d sent", st.Resumed, st.Size, st.Sent)
	if st.Err != nil || st.Resumed < int64(len(newer))*6/10 || st.Resumed+st.Sent != int64(len(newer)) {
		t.Fatalf("transfer %+v, want most of it from the older file", st)
	}
	if l.digest(t, 1) != sha256.Sum256(newer) {
		t.Fatal("raft read another snapshot than the one sent")
	}
	if files := l.partials.Files(); len(files) != 0 {
		t.Fatalf("partial files after the install: %v", files)
	}
}
