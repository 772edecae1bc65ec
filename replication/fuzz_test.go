package replication

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

// Fuzz targets for the decoders of replication: raft commands (what a forwarded write and every
// raft log entry carry), state snapshots (what a follower restores from a voter's stream), the
// control group's entries and snapshots, and the raft log store's values (FuzzDecodeRaftLog, in
// logstore_test.go). scripts/fuzz.sh runs them for longer.

func fuzzRecord(id string) record.Record {
	return record.Record{ID: id, Serial: "BXK 0123", OtherSerials: []string{"BXK0123"}, Make: "Glock",
		Calibre: "9x19", Type: "pistol", RecordingCountry: "FR", Status: "stolen", Remarks: "é"}
}

func mustMarshal(c *Command) []byte {
	b, _ := c.MarshalBinary()
	return b
}

// FuzzCommand decodes arbitrary bytes as a raft command. What decodes re-encodes to bytes that
// decode the same, and a small input never allocates much more than its size: a count is checked
// against the bytes left before anything is made for it.
func FuzzCommand(f *testing.F) {
	fr := Principal{Agency: "FR-NCB", Country: "FR"}
	f.Add(mustMarshal(&Command{Op: OpUpsert, Principal: fr, Records: []record.Record{fuzzRecord("FR-1"), fuzzRecord("FR-2")}}))
	f.Add(mustMarshal(&Command{Op: OpCreate, Principal: Principal{Agency: "IPSG", Admin: true}, Records: []record.Record{{}}}))
	f.Add(mustMarshal(&Command{Op: OpDelete, Principal: fr, IDs: []string{"FR-1", ""}}))
	f.Add(mustMarshal(&Command{Op: OpUpdate}))
	f.Add(mustMarshal(&Command{Op: OpUpsert, Principal: fr, Records: []record.Record{fuzzRecord("FR-1")}})[:30]) // truncated
	f.Add(append([]byte{commandVersion, byte(OpUpsert), 0, 0, 0}, binary.AppendUvarint(nil, 1<<62)...))          // a huge count
	f.Add(append(append([]byte{commandVersion, byte(OpUpsert), 0, 0, 0}, binary.AppendUvarint(nil, 4000)...),    // a count its bytes cannot hold
		make([]byte, 4000)...))
	f.Add(append([]byte{commandVersion, byte(OpDelete), 0, 0, 0}, bytes.Repeat([]byte{0x80}, 11)...)) // an endless varint
	f.Add([]byte{commandVersion, 9})
	checked, _ := (&Command{Op: OpUpsert, Principal: fr, Records: []record.Record{fuzzRecord("FR-1")}}).MarshalFormat(CommandFormatChecked)
	f.Add(checked) // format 2, with its checksum
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Command
		var err error
		if n := testutil.Allocated(func() { err = c.UnmarshalBinary(b) }); n > 64*uint64(len(b))+64<<10 {
			t.Fatalf("decoding %d bytes allocated %d", len(b), n)
		}
		if err != nil {
			return
		}
		re, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Command
		if err := back.UnmarshalBinary(re); err != nil {
			t.Fatalf("%+v re-encodes as %x, which does not decode: %v", c, re, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("%+v comes back as %+v", c, back)
		}
	})
}

// snapshotOf writes the snapshot stream of records (sorted by id, as a state file holds them).
func snapshotOf(index, term uint64, recs ...record.Record) []byte {
	slices.SortFunc(recs, func(a, b record.Record) int { return strings.Compare(a.ID, b.ID) })
	b := append([]byte(nil), snapMagic...)
	b = binary.AppendUvarint(b, index)
	b = binary.AppendUvarint(b, term)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	var d Digest
	for i := range recs {
		v := recs[i].AppendBinary(nil)
		d.add(sha256.Sum256(v), +1)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	for _, x := range d {
		b = binary.BigEndian.AppendUint64(b, x)
	}
	return b
}

// persisted is the snapshot stream of the state file at path.
func persisted(t *testing.T, path string) (Stats, []byte) {
	t.Helper()
	st, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snap, err := st.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var buf bytes.Buffer
	if err := snap.write(&buf); err != nil {
		t.Fatalf("a restored state does not snapshot: %v", err)
	}
	return st.Stats(), buf.Bytes()
}

// FuzzSnapshotRestore restores arbitrary bytes as a state snapshot stream. A stream that restores
// is one the state file agrees with: the restored file snapshots again (its count matches its
// records), to a stream that restores to the same state and digest.
func FuzzSnapshotRestore(f *testing.F) {
	big := fuzzRecord("FR-BIG")
	big.Remarks = strings.Repeat("r", 4096) // a valid record whose encoding is over 4 KiB
	f.Add(snapshotOf(12, 3, fuzzRecord("FR-1"), fuzzRecord("FR-2"), fuzzRecord("KE-1")))
	f.Add(snapshotOf(0, 0))
	f.Add(snapshotOf(7, 2, big, fuzzRecord("FR-1")))
	dup := snapshotOf(5, 1, fuzzRecord("FR-1"), fuzzRecord("FR-1"))
	f.Add(dup)
	f.Add(append(snapshotOf(5, 1, fuzzRecord("FR-1")), "trailing"...))
	f.Add(snapshotOf(5, 1, fuzzRecord("FR-1"))[:40]) // truncated
	f.Add(append(append([]byte(nil), snapMagic...), 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Add(append(append([]byte(nil), snapMagic...), 1, 1, 1, 0xff, 0xff, 0xff, 0x7f)) // a record length of 256 MiB
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.db")
		tmp, st, err := restoreFile(path, nil, bytes.NewReader(b))
		if err != nil {
			return
		}
		got, again := persisted(t, tmp)
		if got != st {
			t.Fatalf("restore reported %+v, the file holds %+v", st, got)
		}
		tmp2, st2, err := restoreFile(filepath.Join(dir, "again.db"), nil, bytes.NewReader(again))
		if err != nil {
			t.Fatalf("the restored state's own snapshot does not restore: %v", err)
		}
		if st2 != st {
			t.Fatalf("restored again as %+v, want %+v", st2, st)
		}
		if _, third := persisted(t, tmp2); !bytes.Equal(third, again) {
			t.Fatal("a restored snapshot persists differently each time")
		}
	})
}

// fuzzVerifier reads control blobs as JSON {"op","peer","name"} without a signature, so that the
// fuzzer reaches every state the control FSM can be in; signatures have their own targets in
// transport. Like the real verifier it names a short peer id and name or refuses.
type fuzzVerifier struct{}

type fuzzBlob struct {
	Op     string `json:"op"`
	Peer   string `json:"peer"`
	Name   string `json:"name,omitempty"`
	Serial uint64 `json:"serial,omitempty"`
}

func (fuzzVerifier) read(blob []byte, op string) (fuzzBlob, error) {
	var b fuzzBlob
	if err := json.Unmarshal(blob, &b); err != nil {
		return b, err
	}
	if b.Op != op || len(b.Peer) > 128 || len(b.Name) > 64 {
		return b, errors.New("refused")
	}
	return b, nil
}

func (v fuzzVerifier) VerifyAdmit(blob []byte) (ControlEntry, error) {
	b, err := v.read(blob, "admit")
	return ControlEntry{PeerID: b.Peer, Name: b.Name, Serial: b.Serial}, err
}

func (v fuzzVerifier) VerifyRevoke(blob []byte) (string, error) {
	b, err := v.read(blob, "revoke")
	return b.Peer, err
}

func fuzzControlCommand(op ControlOp, peer, name string) []byte {
	blob, _ := json.Marshal(fuzzBlob{Op: string(op), Peer: peer, Name: name})
	b, _ := json.Marshal(ControlCommand{Op: op, Blob: blob})
	return b
}

func openFuzzControl(t testing.TB) *controlFSM {
	t.Helper()
	store, err := openControlStore(controlStatePath(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	store.db.NoSync = true // a fuzzed store is thrown away: an fsync per entry only slows the fuzzer
	t.Cleanup(func() { store.close() })
	return newControlFSM(store, fuzzVerifier{}, nil, slog.New(slog.DiscardHandler))
}

// stateJSON renders a control state for comparison, an empty list and none alike.
func stateJSON(st ControlState) []byte {
	if len(st.Members) == 0 {
		st.Members = nil
	}
	if len(st.Revoked) == 0 {
		st.Revoked = nil
	}
	b, _ := json.Marshal(st)
	return b
}

// checkControlState fails unless the control state in memory is the one on disk, and it holds
// together: no admitted member is revoked, no two members share a name.
func checkControlState(t *testing.T, f *controlFSM) {
	t.Helper()
	mem := f.store.state()
	disk, err := readControlTx(f.store.db)
	if err != nil {
		t.Fatalf("the control state file does not read back: %v", err)
	}
	m, d := stateJSON(mem), stateJSON(disk)
	if !bytes.Equal(m, d) {
		t.Fatalf("control state in memory %s, on disk %s", m, d)
	}
	names := map[string]bool{}
	for _, x := range mem.Members {
		if f.store.revoked[x.PeerID].PeerID != "" {
			t.Fatalf("member %q is revoked", x.PeerID)
		}
		if names[x.Name] {
			t.Fatalf("two members named %q", x.Name)
		}
		names[x.Name] = true
	}
}

// FuzzControlCommand applies arbitrary bytes as control log entries, one per line, then the last
// one again. A refused entry is refused as an entry (never a panic), the state in memory is the
// state on disk, and repeating an entry changes nothing.
func FuzzControlCommand(f *testing.F) {
	lines := func(cmds ...[]byte) []byte { return bytes.Join(cmds, []byte("\n")) }
	admitA := fuzzControlCommand(ControlAdmit, "peer-a", "edge-cdg")
	f.Add(lines(admitA, fuzzControlCommand(ControlAdmit, "peer-b", "edge-nbo"), fuzzControlCommand(ControlRevoke, "peer-a", "")))
	f.Add(lines(fuzzControlCommand(ControlRevoke, "peer-a", ""), admitA))                           // admit after revoke
	f.Add(lines(admitA, fuzzControlCommand(ControlAdmit, "peer-b", "edge-cdg")))                    // a name in use
	f.Add(lines(admitA, fuzzControlCommand(ControlAdmit, "peer-a", "edge-cdg-2")))                  // a member renamed
	f.Add(lines(fuzzControlCommand(ControlAdmit, "", ""), fuzzControlCommand("promote", "x", "y"))) // no peer id; an unknown op
	f.Add([]byte(`{"op":"admit","blob":"not base64"}`))
	f.Add([]byte(`{"op":"admit","blob":null}` + "\n" + `[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds := bytes.Split(b, []byte("\n"))
		if len(cmds) > 8 {
			return
		}
		fsm := openFuzzControl(t)
		var last any
		for i, c := range cmds {
			last = fsm.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: c})
		}
		checkControlState(t, fsm)
		again := fsm.Apply(&raft.Log{Index: uint64(len(cmds) + 1), Term: 1, Type: raft.LogCommand, Data: cmds[len(cmds)-1]})
		if r, ok := again.(ControlResult); ok && r.Changed {
			t.Fatalf("the entry applied twice changed the state twice (first %+v)", last)
		}
		checkControlState(t, fsm)
	})
}

// FuzzControlSnapshot restores arbitrary bytes as a control snapshot. A snapshot that restores
// leaves the same state in memory and on disk, and snapshots again to one that restores the same.
func FuzzControlSnapshot(f *testing.F) {
	src := openFuzzControl(f)
	for i, c := range [][]byte{fuzzControlCommand(ControlAdmit, "peer-a", "edge-cdg"),
		fuzzControlCommand(ControlAdmit, "peer-b", "edge-nbo"), fuzzControlCommand(ControlRevoke, "peer-c", "")} {
		src.Apply(&raft.Log{Index: uint64(i + 1), Term: 2, Type: raft.LogCommand, Data: c})
	}
	var sink snapBuffer
	snap, _ := src.Snapshot()
	if err := snap.Persist(&sink); err != nil {
		f.Fatal(err)
	}
	f.Add(sink.Bytes())
	f.Add([]byte(`{"format":"fedarms-control/1","state":{"members":[{"peer_id":"a","name":"x"},{"peer_id":"b","name":"x"},{"peer_id":"a","name":"y"}],"revoked":[{"peer_id":"a"}]}}`))
	f.Add([]byte(`{"format":"fedarms-control/1","state":{"members":[{"peer_id":""}]}}`))
	f.Add([]byte(`{"format":"fedarms-control/0","state":{}}`))
	f.Add([]byte(`{"format":"fedarms-control/1","state":{"applied_index":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsm := openFuzzControl(t)
		if err := fsm.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
			checkControlState(t, fsm) // a refused snapshot leaves the state as it was
			return
		}
		checkControlStore(t, fsm)
		var out snapBuffer
		snap, _ := fsm.Snapshot()
		if err := snap.Persist(&out); err != nil {
			t.Fatal(err)
		}
		other := openFuzzControl(t)
		if err := other.Restore(io.NopCloser(bytes.NewReader(out.Bytes()))); err != nil {
			t.Fatalf("a restored state's own snapshot does not restore: %v", err)
		}
		if a, b := stateJSON(fsm.store.state()), stateJSON(other.store.state()); !bytes.Equal(a, b) {
			t.Fatalf("restored again as %s, want %s", b, a)
		}
	})
}

// checkControlStore is checkControlState without the invariants a snapshot from a voter is trusted
// to hold (it is verified entry by entry elsewhere): memory and disk agree.
func checkControlStore(t *testing.T, f *controlFSM) {
	t.Helper()
	disk, err := readControlTx(f.store.db)
	if err != nil {
		t.Fatalf("the control state file does not read back: %v", err)
	}
	m, d := stateJSON(f.store.state()), stateJSON(disk)
	if !bytes.Equal(m, d) {
		t.Fatalf("control state in memory %s, on disk %s", m, d)
	}
}
