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

	"github.com/fedarms/fedarms/internal/testutil"
)

// A finalize reaches every member, survives a restart (read without starting raft too), only
// moves forward, and travels in snapshots; a malformed one is refused on every replica.
func TestControlFinalizeRecordedEverywhereAndOnlyForward(t *testing.T) {
	cc := newCtlCluster(t, 3, 1, clusterRaft)
	l := cc.waitLeader()
	ctx := context.Background()
	if u := l.c.Upgrade(); len(u.Formats) != 0 {
		t.Fatalf("a new federation has finalized %+v", u)
	}
	res, err := l.c.Finalize(ctx, map[string]int{"raft_command": 2}, "0.2.0")
	if err != nil || !res.Changed {
		t.Fatalf("finalize: %+v %v", res, err)
	}
	cc.converged(l)
	for _, m := range cc.members {
		u := m.c.Upgrade()
		if u.Formats["raft_command"] != 2 || u.Release != "0.2.0" || u.Index != res.Index {
			t.Fatalf("%s holds %+v", m.id, u)
		}
		changes, _ := m.obs.seen()
		if last := changes[len(changes)-1]; last.Op != ControlFinalize || last.Upgrade == nil || last.Upgrade.Formats["raft_command"] != 2 {
			t.Fatalf("%s's observer heard %+v", m.id, last)
		}
	}
	if res, err := l.c.Finalize(ctx, map[string]int{"raft_command": 1}, "0.1.0"); err != nil || res.Changed {
		t.Fatalf("finalizing an older format: %+v %v, want unchanged", res, err)
	}
	if _, err := l.c.Finalize(ctx, map[string]int{"raft_command": 0}, ""); !errors.Is(err, ErrControlRefused) {
		t.Fatalf("finalizing format 0: %v", err)
	}
	if _, err := l.c.Finalize(ctx, nil, ""); !errors.Is(err, ErrControlRefused) {
		t.Fatalf("finalizing nothing: %v", err)
	}

	// Restarted, and read from disk without raft.
	m := cc.members[3]
	want := m.c.Upgrade()
	if err := m.c.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := ReadControlState(m.dir)
	if err != nil || st.Upgrade == nil || !reflect.DeepEqual(*st.Upgrade, want) {
		t.Fatalf("read from disk: %+v %v, want %+v", st.Upgrade, err, want)
	}
	c, err := OpenControl(ControlConfig{Dir: m.dir, LocalID: m.id, Verifier: cc.signer})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upgrade(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart: %+v, want %+v", got, want)
	}
	c.Close()
	m.c, _ = OpenControl(ControlConfig{Dir: t.TempDir(), LocalID: m.id, Verifier: cc.signer}) // for the cleanup

	// A snapshot carries it; restoring one without it keeps it.
	snap := l.c.store.state()
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(controlSnapshotFile{Format: controlSnapshotFormat, State: snap})
	store, err := openControlStore(controlStatePath(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer store.close()
	fresh := newControlFSM(store, cc.signer, nil, slog.New(slog.DiscardHandler))
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if u := fresh.store.upgradeState(); u.Formats["raft_command"] != 2 {
		t.Fatalf("restored %+v", u)
	}
	snap.Upgrade = nil
	buf.Reset()
	_ = json.NewEncoder(&buf).Encode(controlSnapshotFile{Format: controlSnapshotFormat, State: snap})
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if u := fresh.store.upgradeState(); u.Formats["raft_command"] != 2 {
		t.Fatalf("a snapshot without the upgrade undid it: %+v", u)
	}
}

// A control entry of a control format this release does not read halts the control group at that
// entry (never skipped, never refused as an item), on every replica; the leader refuses to order
// one.
func TestControlHaltsOnANewerControlFormat(t *testing.T) {
	cc := newCtlCluster(t, 1, 1, clusterRaft)
	l := cc.waitLeader()
	if _, err := l.c.Apply(context.Background(), ControlCommand{Op: "join", Format: ControlFormatNewest + 1}); !errors.Is(err, ErrControlRefused) {
		t.Fatalf("ordering a newer control format: %v", err)
	}
	before := l.c.AppliedIndex()
	data, _ := json.Marshal(ControlCommand{Op: "join", Blob: []byte("x"), Format: ControlFormatNewest + 1})
	_ = l.c.raft.Apply(data, time.Second) // as a newer leader would order it
	for _, m := range cc.members {
		testutil.WaitFor(t, 10*time.Second, m.id+" to halt", func() bool { _, ok := m.c.Halted(); return ok })
		h, _ := m.c.Halted()
		if !strings.Contains(h.Reason, "control format 3") || !strings.Contains(h.Reason, "reads control formats 1 to 2") || h.Index <= before {
			t.Fatalf("%s halted with %+v", m.id, h)
		}
		if got := m.c.AppliedIndex(); got > before {
			t.Fatalf("%s applied index %d past the entry at %d", m.id, got, before+1)
		}
	}
}
