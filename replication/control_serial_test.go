package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func openOneControl(t *testing.T, s testSigner) *Control {
	t.Helper()
	c, err := OpenControl(ControlConfig{Dir: t.TempDir(), LocalID: "n1", Bootstrap: true, Verifier: s, Tune: fastRaft})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// A member's older entry (another role, more shards) never replaces its newer one, whether the
// leader checks it or a leader that skipped the check put it in the log.
func TestControlRefusesStaleEntries(t *testing.T) {
	s := newSigner(t)
	c := openOneControl(t, s)
	ctx := context.Background()
	current := s.signAt(2, "admit", "p1", "edge-a")
	if res, err := c.Admit(ctx, current); err != nil || !res.Changed {
		t.Fatalf("admit serial 2: %+v %v", res, err)
	}
	for _, old := range [][]byte{s.signAt(1, "admit", "p1", "edge-a"), s.sign("admit", "p1", "edge-a"), s.signAt(2, "admit", "p1", "edge-b")} {
		if _, err := c.Admit(ctx, old); !errors.Is(err, ErrStaleEntry) {
			t.Fatalf("admit of %s: %v, want ErrStaleEntry", old, err)
		}
		// In the log anyway, under this release's rules: refused on apply.
		data, _ := json.Marshal(ControlCommand{Op: ControlAdmit, Blob: old, Rules: controlRules})
		f := c.raft.Apply(data, 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		if err, ok := f.Response().(error); !ok || !errors.Is(err, ErrStaleEntry) {
			t.Fatalf("stale entry in the log: response %v", f.Response())
		}
	}
	if m, _ := c.Member("p1"); !bytes.Equal(m.Blob, current) || m.Serial != 2 {
		t.Fatalf("entry in force %+v", m)
	}
	if res, err := c.Admit(ctx, current); err != nil || res.Changed {
		t.Fatalf("the entry in force again: %+v %v", res, err)
	}
	if res, err := c.Admit(ctx, s.signAt(3, "admit", "p1", "edge-a")); err != nil || !res.Changed {
		t.Fatalf("a newer entry: %+v %v", res, err)
	}
	// A command without rules was ordered by the last release, which let any entry replace the one
	// in force: a log it wrote replays the same way here.
	legacy := s.sign("admit", "p1", "edge-a")
	data, _ := json.Marshal(map[string]any{"op": "admit", "blob": legacy})
	f := c.raft.Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if r, ok := f.Response().(ControlResult); !ok || !r.Changed {
		t.Fatalf("a command of the last release: %v", f.Response())
	}
	if m, _ := c.Member("p1"); !bytes.Equal(m.Blob, legacy) || m.Serial != 0 {
		t.Fatalf("after the last release's command: %+v", m)
	}
}

// The state file and snapshots of the last release had no serials: members without one read as
// serial 0, and this release writes them back in the same bytes.
func TestControlStateOfTheLastReleaseLoads(t *testing.T) {
	old := []byte(`{"peer_id":"p1","name":"a","blob":"eyJ9","index":3}`)
	var m ControlMember
	if err := json.Unmarshal(old, &m); err != nil || m.Serial != 0 || m.Index != 3 {
		t.Fatalf("%+v %v", m, err)
	}
	if b, _ := json.Marshal(m); !bytes.Equal(b, old) {
		t.Fatalf("written back as %s, the last release wrote %s", b, old)
	}
	if b, _ := json.Marshal(ControlCommand{Op: ControlAdmit, Blob: []byte("x")}); strings.Contains(string(b), "rules") {
		t.Fatalf("a command without rules: %s", b)
	}
}

// restoreFrom restores the control snapshot of st into f and returns the state it left.
func restoreFrom(t *testing.T, f *controlFSM, st ControlState) ControlState {
	t.Helper()
	b, err := json.Marshal(controlSnapshotFile{Format: controlSnapshotFormat, State: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	return f.store.state()
}

// A snapshot is verified entry by entry: forged or misfiled entries are left out, a revocation
// this node applied is never lost, and a member's entry never goes back to an older one.
func TestControlRestoreVerifiesEntryByEntry(t *testing.T) {
	s := newSigner(t)
	forger := newSigner(t)
	dir := t.TempDir()
	store, err := openControlStore(controlStatePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer store.close()
	obs := &ctlRecorder{}
	f := newControlFSM(store, s, obs, slog.New(slog.DiscardHandler))
	for i, cmd := range []ControlCommand{
		{Op: ControlAdmit, Blob: s.signAt(5, "admit", "p1", "edge-1"), Rules: controlRules},
		{Op: ControlAdmit, Blob: s.signAt(1, "admit", "p9", "edge-9"), Rules: controlRules},
		{Op: ControlRevoke, Blob: s.sign("revoke", "p9", "")},
	} {
		data, _ := json.Marshal(cmd)
		if r, ok := f.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}).(ControlResult); !ok || !r.Changed {
			t.Fatalf("entry %d: %+v", i+1, r)
		}
	}
	held := store.state()
	member := func(serial uint64, peer, name string, blob []byte) ControlMember {
		return ControlMember{PeerID: peer, Name: name, Blob: blob, Index: 7, Serial: serial}
	}
	snap := ControlState{AppliedIndex: 20, AppliedTerm: 3,
		Members: []ControlMember{
			member(3, "p1", "edge-1", s.signAt(3, "admit", "p1", "edge-1")),      // older than held: kept at 5
			member(9, "p2", "edge-2", forger.signAt(9, "admit", "p2", "edge-2")), // forged: dropped
			member(1, "p3", "edge-3", s.signAt(1, "admit", "p4", "edge-4")),      // p4's entry filed as p3: dropped
			member(1, "p5", "edge-5", s.signAt(1, "admit", "p5", "edge-5")),      // valid
			member(1, "p6", "edge-6", s.signAt(1, "admit", "p6", "edge-6")),      // revoked below: dropped
			member(0, "p7", "edge-5", s.sign("admit", "p7", "edge-5")),           // p5's name: dropped
			member(99, "p8", "edge-8", s.signAt(1, "admit", "p8", "edge-8")),     // claims serial 99: read as 1
		},
		Revoked: []ControlRevoked{
			{PeerID: "p5", Blob: forger.sign("revoke", "p5", ""), Index: 8}, // forged: p5 stays
			{PeerID: "p6", Blob: s.sign("revoke", "p6", ""), Index: 9},
			{PeerID: "p1", Blob: s.sign("revoke", "p2", ""), Index: 10}, // p2's revocation filed as p1: dropped
			// p9's revocation, applied here, is missing.
		}}
	got := restoreFrom(t, f, snap)
	var ids []string
	for _, m := range got.Members {
		ids = append(ids, m.PeerID)
	}
	if !reflect.DeepEqual(ids, []string{"p1", "p5", "p8"}) {
		t.Fatalf("members after restore %v, want p1 p5 p8", ids)
	}
	if !reflect.DeepEqual(got.Members[0], held.Members[0]) {
		t.Fatalf("p1 went back to an older entry: %+v, held %+v", got.Members[0], held.Members[0])
	}
	if got.Members[2].Serial != 1 {
		t.Fatalf("p8's serial %d: the snapshot's claim was believed", got.Members[2].Serial)
	}
	var rev []string
	for _, r := range got.Revoked {
		rev = append(rev, r.PeerID)
	}
	if !reflect.DeepEqual(rev, []string{"p6", "p9"}) {
		t.Fatalf("revocations after restore %v, want p6 p9", rev)
	}
	if got.AppliedIndex != 20 {
		t.Fatalf("applied index %d", got.AppliedIndex)
	}
	if _, n := obs.seen(); n != 1 {
		t.Fatalf("observer told of %d restores", n)
	}
	// What was restored is on disk, and a revoked peer stays out of later admissions.
	store.close()
	if disk, err := ReadControlState(dir); err != nil || !reflect.DeepEqual(disk, got) {
		t.Fatalf("on disk\n%+v (%v)\nrestored\n%+v", disk, err, got)
	}
	store2, err := openControlStore(controlStatePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer store2.close()
	if _, _, err := store2.decide(s, ControlCommand{Op: ControlAdmit, Blob: s.signAt(2, "admit", "p9", "edge-9"), Rules: controlRules}); !errors.Is(err, ErrPeerRevoked) {
		t.Fatalf("admit of p9 after a restore that dropped its revocation: %v", err)
	}
}

// An honest snapshot (a later state of the same log) restores exactly as it was taken.
func TestControlRestoreOfAnHonestSnapshotIsExact(t *testing.T) {
	s := newSigner(t)
	mk := func() *controlFSM {
		st, err := openControlStore(controlStatePath(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.close() })
		return newControlFSM(st, s, nil, slog.New(slog.DiscardHandler))
	}
	src, dst := mk(), mk()
	cmds := []ControlCommand{
		{Op: ControlAdmit, Blob: s.signAt(1, "admit", "p1", "a"), Rules: controlRules},
		{Op: ControlAdmit, Blob: s.sign("admit", "p2", "b"), Rules: controlRules},
		{Op: ControlRevoke, Blob: s.sign("revoke", "p2", "")},
		{Op: ControlAdmit, Blob: s.signAt(4, "admit", "p1", "a2"), Rules: controlRules},
	}
	for i, cmd := range cmds {
		data, _ := json.Marshal(cmd)
		l := &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}
		src.Apply(l)
		if i < 2 {
			dst.Apply(l) // dst is behind: it has the first two
		}
	}
	want := src.store.state()
	if got := restoreFrom(t, dst, want); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored\n%+v\nwant\n%+v", got, want)
	}
}
