package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
	"pgregory.net/rapid"

	"github.com/fedarms/fedarms/internal/testutil"
)

// openTestLogStore takes the subset of testing.TB that *rapid.T also provides.
func openTestLogStore(t interface {
	Helper()
	Fatalf(format string, args ...any)
}, path string) *LogStore {
	t.Helper()
	s, err := OpenLogStore(path, LogStoreOptions{NoSync: true})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// testRaftLog builds an entry whose every field depends on index and term, so a mix-up between
// entries shows up as a field mismatch.
func testRaftLog(index, term uint64) *raft.Log {
	return &raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(index % 6),
		Data:       []byte(fmt.Sprintf("data-%d-%d", index, term)),
		Extensions: []byte(fmt.Sprintf("ext-%d", index)),
		AppendedAt: time.Unix(1_700_000_000+int64(index), int64(term)).UTC(),
	}
}

func testRaftLogs(first, last, term uint64) []*raft.Log {
	var logs []*raft.Log
	for i := first; i <= last; i++ {
		logs = append(logs, testRaftLog(i, term))
	}
	return logs
}

func sameRaftLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

func TestLogStoreConformance(t *testing.T) {
	store := func(logs ...*raft.Log) func(*LogStore) error {
		return func(s *LogStore) error { return s.StoreLogs(logs) }
	}
	batch := func(first, last, term uint64) func(*LogStore) error {
		return store(testRaftLogs(first, last, term)...)
	}
	del := func(min, max uint64) func(*LogStore) error {
		return func(s *LogStore) error { return s.DeleteRange(min, max) }
	}
	tests := []struct {
		name        string
		ops         []func(*LogStore) error
		first, last uint64
		want        []*raft.Log // every entry that must be present, in full
	}{
		{name: "empty"},
		{name: "store one", ops: []func(*LogStore) error{
			func(s *LogStore) error { return s.StoreLog(testRaftLog(5, 1)) },
		}, first: 5, last: 5, want: testRaftLogs(5, 5, 1)},
		{name: "store batch", ops: []func(*LogStore) error{batch(1, 10, 1)},
			first: 1, last: 10, want: testRaftLogs(1, 10, 1)},
		{name: "empty batch", ops: []func(*LogStore) error{store()}},
		{name: "delete start", ops: []func(*LogStore) error{batch(1, 10, 1), del(1, 3)},
			first: 4, last: 10, want: testRaftLogs(4, 10, 1)},
		{name: "delete below first", ops: []func(*LogStore) error{batch(5, 10, 1), del(0, 6)},
			first: 7, last: 10, want: testRaftLogs(7, 10, 1)},
		{name: "delete middle", ops: []func(*LogStore) error{batch(1, 10, 1), del(4, 6)},
			first: 1, last: 10, want: append(testRaftLogs(1, 3, 1), testRaftLogs(7, 10, 1)...)},
		{name: "delete end", ops: []func(*LogStore) error{batch(1, 10, 1), del(8, 10)},
			first: 1, last: 7, want: testRaftLogs(1, 7, 1)},
		{name: "delete past end", ops: []func(*LogStore) error{batch(1, 10, 1), del(5, 1000)},
			first: 1, last: 4, want: testRaftLogs(1, 4, 1)},
		{name: "delete all", ops: []func(*LogStore) error{batch(1, 10, 1), del(1, 10)}},
		{name: "delete inverted range is a no-op", ops: []func(*LogStore) error{batch(1, 10, 1), del(7, 3)},
			first: 1, last: 10, want: testRaftLogs(1, 10, 1)},
		{name: "delete on empty", ops: []func(*LogStore) error{del(1, 100)}},
		{name: "delete large range", ops: []func(*LogStore) error{batch(1, 5000, 1), del(1, 4990)},
			first: 4991, last: 5000, want: testRaftLogs(4991, 5000, 1)},
		{name: "overwrite keeps the newer term", ops: []func(*LogStore) error{batch(1, 5, 1), batch(3, 6, 2)},
			first: 1, last: 6, want: append(testRaftLogs(1, 2, 1), testRaftLogs(3, 6, 2)...)},
		{name: "gap between batches", ops: []func(*LogStore) error{batch(1, 3, 1), batch(10, 12, 2)},
			first: 1, last: 12, want: append(testRaftLogs(1, 3, 1), testRaftLogs(10, 12, 2)...)},
		{name: "indexes above MaxInt64 sort last",
			ops:   []func(*LogStore) error{store(testRaftLog(math.MaxUint64, 3), testRaftLog(1<<63, 2), testRaftLog(7, 1))},
			first: 7, last: math.MaxUint64,
			want: []*raft.Log{testRaftLog(7, 1), testRaftLog(1<<63, 2), testRaftLog(math.MaxUint64, 3)}},
		{name: "delete up to MaxUint64 stops at the top",
			ops:   []func(*LogStore) error{store(testRaftLog(2, 1), testRaftLog(math.MaxUint64-1, 1), testRaftLog(math.MaxUint64, 1)), del(3, math.MaxUint64)},
			first: 2, last: 2, want: testRaftLogs(2, 2, 1)},
		{name: "empty payloads and zero time", ops: []func(*LogStore) error{store(&raft.Log{Index: 1, Term: 1})},
			first: 1, last: 1, want: []*raft.Log{{Index: 1, Term: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			s := openTestLogStore(t, path)
			for i, op := range tt.ops {
				if err := op(s); err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
			}
			checkLogStoreContents(t, s, tt.first, tt.last, tt.want)
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			s = openTestLogStore(t, path)
			defer s.Close()
			checkLogStoreContents(t, s, tt.first, tt.last, tt.want)
		})
	}
}

// checkLogStoreContents asserts the bounds, each wanted entry, and that nothing else is present
// around and between them.
func checkLogStoreContents(t *testing.T, s *LogStore, first, last uint64, want []*raft.Log) {
	t.Helper()
	if got, err := s.FirstIndex(); err != nil || got != first {
		t.Errorf("FirstIndex = %d, %v; want %d", got, err, first)
	}
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Errorf("LastIndex = %d, %v; want %d", got, err, last)
	}
	present := map[uint64]bool{}
	for _, w := range want {
		present[w.Index] = true
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Errorf("GetLog(%d): %v", w.Index, err)
		} else if !sameRaftLog(&got, w) {
			t.Errorf("GetLog(%d) = %+v, want %+v", w.Index, got, *w)
		}
	}
	probes := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 4990, 4991, 1000, math.MaxUint64 - 1, math.MaxUint64}
	for _, idx := range probes {
		if present[idx] {
			continue
		}
		var got raft.Log
		if err := s.GetLog(idx, &got); err != raft.ErrLogNotFound {
			t.Errorf("GetLog(%d) of an absent index = %v, want raft.ErrLogNotFound itself", idx, err)
		}
	}
}

func TestLogStoreStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openTestLogStore(t, path)
	if has, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); err != nil || has {
		t.Fatalf("HasExistingState on a fresh store = %v, %v; want false, nil", has, err)
	}
	check := func(s *LogStore) {
		t.Helper()
		tests := []struct {
			key     string
			want    []byte
			wantU64 uint64
			wantErr error
		}{
			{key: "CurrentTerm", want: []byte{0, 0, 0, 0, 0, 0, 0, 7}, wantU64: 7},
			{key: "LastVoteCand", want: []byte("node-2"), wantErr: ErrLogCorrupt},
			{key: "empty", want: []byte{}, wantErr: ErrLogCorrupt},
			{key: "overwritten", want: []byte{0, 0, 0, 0, 0, 0, 1, 0}, wantU64: 256},
			{key: "max", want: []byte{255, 255, 255, 255, 255, 255, 255, 255}, wantU64: math.MaxUint64},
			{key: "never set", wantErr: ErrStableKeyNotFound},
		}
		for _, tt := range tests {
			got, err := s.Get([]byte(tt.key))
			if tt.wantErr == ErrStableKeyNotFound {
				// raft tells a fresh store from a broken one by this exact text.
				if err == nil || err.Error() != "not found" || got != nil {
					t.Errorf("Get(%q) = %q, %v; want nil, \"not found\"", tt.key, got, err)
				}
			} else if err != nil || got == nil || !bytes.Equal(got, tt.want) {
				t.Errorf("Get(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
			}
			u, err := s.GetUint64([]byte(tt.key))
			if !errors.Is(err, tt.wantErr) || u != tt.wantU64 {
				t.Errorf("GetUint64(%q) = %d, %v; want %d, %v", tt.key, u, err, tt.wantU64, tt.wantErr)
			}
		}
	}
	for _, err := range []error{
		s.SetUint64([]byte("CurrentTerm"), 7),
		s.Set([]byte("LastVoteCand"), []byte("node-2")),
		s.Set([]byte("empty"), nil),
		s.SetUint64([]byte("overwritten"), 1),
		s.SetUint64([]byte("overwritten"), 256),
		s.SetUint64([]byte("max"), math.MaxUint64),
	} {
		if err != nil {
			t.Fatalf("set: %v", err)
		}
	}
	if err := s.Set(nil, []byte("x")); err == nil {
		t.Errorf("Set with an empty key succeeded")
	}
	check(s)
	if has, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); err != nil || !has {
		t.Errorf("HasExistingState with a term = %v, %v; want true, nil", has, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestLogStore(t, path)
	defer s.Close()
	check(s)
}

func TestLogStoreLockedByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openTestLogStore(t, path)
	defer s.Close()
	start := time.Now()
	// flock locks belong to the open file description, so a second open in this process
	// contends exactly as another process would.
	_, err := OpenLogStore(path, LogStoreOptions{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLogStoreLocked) {
		t.Fatalf("second open = %v, want ErrLogStoreLocked", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("second open took %v, want it bounded by the lock timeout", took)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

// TestLogStoreConcurrentReadsDuringWrites mirrors raft, whose replication goroutines read entries
// while the leader appends and compacts; run it with -race.
func TestLogStoreConcurrentReadsDuringWrites(t *testing.T) {
	s := openTestLogStore(t, filepath.Join(t.TempDir(), "raft.db"))
	defer s.Close()
	const batches, size = 50, 20
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				last, err := s.LastIndex()
				if err != nil {
					errs <- err
					return
				}
				var l raft.Log
				err = s.GetLog(last, &l)
				if errors.Is(err, raft.ErrLogNotFound) {
					// Only compaction since LastIndex may explain a missing entry.
					if first, ferr := s.FirstIndex(); ferr == nil && first > last {
						continue
					}
				}
				if last > 0 && err != nil {
					errs <- fmt.Errorf("GetLog(%d) of the last index: %w", last, err)
					return
				}
				if last > 0 && !sameRaftLog(&l, testRaftLog(last, 1)) {
					errs <- fmt.Errorf("GetLog(%d) = %+v, a torn or mixed-up entry", last, l)
					return
				}
			}
		}()
	}
	for i := range uint64(batches) {
		if err := s.StoreLogs(testRaftLogs(i*size+1, i*size+size, 1)); err != nil {
			t.Fatal(err)
		}
		if i > 2 {
			if err := s.DeleteRange(0, (i-2)*size); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLogStoreAfterClose(t *testing.T) {
	s := openTestLogStore(t, filepath.Join(t.TempDir(), "raft.db"))
	if err := s.StoreLog(testRaftLog(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A closed store must fail loudly: "not found" would make raft believe the log is empty.
	var l raft.Log
	if err := s.GetLog(1, &l); err == nil || errors.Is(err, raft.ErrLogNotFound) {
		t.Errorf("GetLog after Close = %v, want a not-open error", err)
	}
	if _, err := s.Get([]byte("CurrentTerm")); err == nil || err.Error() == "not found" {
		t.Errorf("Get after Close = %v, want a not-open error", err)
	}
	if err := s.StoreLog(testRaftLog(2, 1)); err == nil {
		t.Errorf("StoreLog after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestRaftLogCodecRoundTrip(t *testing.T) {
	tests := []*raft.Log{
		{},
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("x"), AppendedAt: time.Now()},
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: 255, Data: bytes.Repeat([]byte{0xff}, 4096),
			Extensions: []byte{0}, AppendedAt: time.Date(1969, 7, 20, 20, 17, 40, 999_999_999, time.FixedZone("x", 3600))},
		{Index: 3, Extensions: []byte("only extensions")},
	}
	for i, want := range tests {
		enc := appendRaftLog([]byte("prefix"), want)
		var got raft.Log
		if err := decodeRaftLog(enc[len("prefix"):], &got); err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if !sameRaftLog(&got, want) {
			t.Errorf("case %d: got %+v, want %+v", i, got, *want)
		}
		if want.AppendedAt.IsZero() && got.AppendedAt != (time.Time{}) {
			t.Errorf("case %d: zero AppendedAt decoded as %v, want the zero time", i, got.AppendedAt)
		}
		if len(got.Data) > 0 && len(got.Extensions) > 0 {
			got.Data = append(got.Data, '!')
			if !bytes.Equal(got.Extensions, want.Extensions) {
				t.Errorf("case %d: appending to Data overwrote Extensions", i)
			}
		}
	}
}

func TestRaftLogCodecRejectsCorruption(t *testing.T) {
	valid := appendRaftLog(nil, testRaftLog(42, 3))
	// withCRC seals a hand-made body so the parser, not the checksum, has to catch it.
	withCRC := func(body ...byte) []byte {
		return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, raftLogCRC))
	}
	tests := []struct {
		name string
		val  []byte
	}{
		{"empty", nil},
		{"version only", []byte{raftLogVersion}},
		{"unknown version", append([]byte{2}, valid[1:]...)},
		{"trailing byte", append(slices.Clone(valid), 0)},
		{"missing checksum byte", valid[:len(valid)-1]},
		{"checksum mismatch", append(slices.Clone(valid[:len(valid)-1]), valid[len(valid)-1]^1)},
		{"data length past the end", withCRC(raftLogVersion, 1, 1, 0, 50, 'a')},
		{"huge data length", withCRC(raftLogVersion, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"unterminated varint", withCRC(raftLogVersion, 0x80, 0x80)},
		{"varint overflow", withCRC(raftLogVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
		{"missing type", withCRC(raftLogVersion, 1, 1)},
		{"missing time", withCRC(raftLogVersion, 1, 1, 0, 0, 0)},
		{"nanoseconds out of range", withCRC(raftLogVersion, 1, 1, 0, 0, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03)},
		{"extra bytes under a good checksum", withCRC(append(slices.Clone(valid[:len(valid)-4]), 9)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got raft.Log
			if err := decodeRaftLog(tt.val, &got); !errors.Is(err, ErrLogCorrupt) {
				t.Errorf("decode = %v, want ErrLogCorrupt", err)
			}
		})
	}
	for n := range len(valid) {
		var got raft.Log
		if err := decodeRaftLog(valid[:n], &got); !errors.Is(err, ErrLogCorrupt) {
			t.Errorf("truncated to %d of %d bytes: decode = %v, want ErrLogCorrupt", n, len(valid), err)
		}
	}
	for i := range valid {
		for bit := range 8 {
			bad := slices.Clone(valid)
			bad[i] ^= 1 << bit
			var got raft.Log
			if err := decodeRaftLog(bad, &got); !errors.Is(err, ErrLogCorrupt) {
				t.Errorf("bit %d of byte %d flipped: decode = %v, want ErrLogCorrupt", bit, i, err)
			}
		}
	}
}

func FuzzDecodeRaftLog(f *testing.F) {
	f.Add(appendRaftLog(nil, testRaftLog(42, 3)))
	f.Add(appendRaftLog(nil, &raft.Log{}))
	f.Add([]byte{raftLogVersion, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, val []byte) {
		var l raft.Log
		if decodeRaftLog(val, &l) != nil {
			return
		}
		if re := appendRaftLog(nil, &l); !bytes.Equal(re, val) {
			t.Fatalf("decoded %+v re-encodes as %x, want %x", l, re, val)
		}
	})
}

func TestLogStoreCorruptValueOnDisk(t *testing.T) {
	s := openTestLogStore(t, filepath.Join(t.TempDir(), "raft.db"))
	defer s.Close()
	if err := s.StoreLogs(testRaftLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(raftLogsBucket)
		key := func(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }
		if err := b.Put(key(2), []byte{raftLogVersion, 1, 2}); err != nil {
			return err
		}
		// A well-formed entry filed under the wrong key must not be served as that key.
		return b.Put(key(3), appendRaftLog(nil, testRaftLog(9, 1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint64{2, 3} {
		var l raft.Log
		if err := s.GetLog(idx, &l); !errors.Is(err, ErrLogCorrupt) {
			t.Errorf("GetLog(%d) = %v, want ErrLogCorrupt", idx, err)
		}
	}
	var l raft.Log
	if err := s.GetLog(1, &l); err != nil {
		t.Errorf("GetLog(1) next to corrupt entries: %v", err)
	}
}

// logStoreModel is the reference the property test compares against. raft.InmemStore is not
// used: its First/LastIndex track raft's usage pattern and drift from the true bounds once
// entries are stored out of order or deletes leave gaps at the ends.
type logStoreModel struct {
	logs   map[uint64]*raft.Log
	stable map[string][]byte
}

func (m *logStoreModel) bounds() (first, last uint64) {
	keys := make([]uint64, 0, len(m.logs))
	for k := range m.logs {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return 0, 0
	}
	return slices.Min(keys), slices.Max(keys)
}

func TestLogStoreMatchesModel(t *testing.T) {
	dir := t.TempDir()
	var run int
	rapid.Check(t, func(rt *rapid.T) {
		run++
		path := filepath.Join(dir, strconv.Itoa(run)+".db")
		s := openTestLogStore(rt, path)
		defer func() { s.Close() }()
		m := &logStoreModel{logs: map[uint64]*raft.Log{}, stable: map[string][]byte{}}
		index := rapid.Uint64Range(0, 40)
		bytesGen := rapid.SliceOfN(rapid.Byte(), 0, 48)
		keyGen := rapid.SampledFrom([]string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"})
		rt.Repeat(map[string]func(*rapid.T){
			"StoreLogs": func(rt *rapid.T) {
				n := rapid.IntRange(1, 8).Draw(rt, "n")
				start := index.Draw(rt, "start")
				var logs []*raft.Log
				for i := range uint64(n) {
					logs = append(logs, &raft.Log{
						Index:      start + i,
						Term:       rapid.Uint64Range(0, 5).Draw(rt, "term"),
						Type:       raft.LogType(rapid.Uint8().Draw(rt, "type")),
						Data:       bytesGen.Draw(rt, "data"),
						Extensions: bytesGen.Draw(rt, "ext"),
						AppendedAt: time.Unix(0, rapid.Int64().Draw(rt, "at")),
					})
				}
				if err := s.StoreLogs(logs); err != nil {
					rt.Fatalf("StoreLogs: %v", err)
				}
				for _, l := range logs {
					m.logs[l.Index] = l
				}
			},
			"DeleteRange": func(rt *rapid.T) {
				lo, hi := index.Draw(rt, "min"), index.Draw(rt, "max")
				if err := s.DeleteRange(lo, hi); err != nil {
					rt.Fatalf("DeleteRange: %v", err)
				}
				for k := range m.logs {
					if k >= lo && k <= hi {
						delete(m.logs, k)
					}
				}
			},
			"GetLog": func(rt *rapid.T) {
				idx := index.Draw(rt, "index")
				var got raft.Log
				err := s.GetLog(idx, &got)
				want, ok := m.logs[idx]
				switch {
				case !ok && err != raft.ErrLogNotFound:
					rt.Fatalf("GetLog(%d) of absent entry: %v", idx, err)
				case ok && err != nil:
					rt.Fatalf("GetLog(%d): %v", idx, err)
				case ok && !sameRaftLog(&got, want):
					rt.Fatalf("GetLog(%d) = %+v, want %+v", idx, got, *want)
				}
			},
			"Set": func(rt *rapid.T) {
				k, v := keyGen.Draw(rt, "key"), bytesGen.Draw(rt, "val")
				if err := s.Set([]byte(k), v); err != nil {
					rt.Fatalf("Set: %v", err)
				}
				m.stable[k] = slices.Clone(v)
			},
			"SetUint64": func(rt *rapid.T) {
				k, v := keyGen.Draw(rt, "key"), rapid.Uint64().Draw(rt, "val")
				if err := s.SetUint64([]byte(k), v); err != nil {
					rt.Fatalf("SetUint64: %v", err)
				}
				m.stable[k] = binary.BigEndian.AppendUint64(nil, v)
			},
			"Get": func(rt *rapid.T) {
				k := keyGen.Draw(rt, "key")
				got, err := s.Get([]byte(k))
				want, ok := m.stable[k]
				if (!ok && err != ErrStableKeyNotFound) || (ok && (err != nil || !bytes.Equal(got, want))) {
					rt.Fatalf("Get(%q) = %x, %v; want %x (present %v)", k, got, err, want, ok)
				}
			},
			"Reopen": func(rt *rapid.T) {
				if err := s.Close(); err != nil {
					rt.Fatalf("Close: %v", err)
				}
				s = openTestLogStore(rt, path)
			},
			"": func(rt *rapid.T) {
				first, last := m.bounds()
				if got, err := s.FirstIndex(); err != nil || got != first {
					rt.Fatalf("FirstIndex = %d, %v; want %d", got, err, first)
				}
				if got, err := s.LastIndex(); err != nil || got != last {
					rt.Fatalf("LastIndex = %d, %v; want %d", got, err, last)
				}
			},
		})
	})
}

// logStoreCountingFSM counts applied commands; enough to see raft replay the log after a restart.
type logStoreCountingFSM struct {
	mu      sync.Mutex // guards applied
	applied uint64
}

func (f *logStoreCountingFSM) Apply(*raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied++
	return f.applied
}

func (f *logStoreCountingFSM) count() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *logStoreCountingFSM) Snapshot() (raft.FSMSnapshot, error) {
	return logStoreCountSnapshot(f.count()), nil
}

func (f *logStoreCountingFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var buf [8]byte
	if _, err := io.ReadFull(rc, buf[:]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = binary.BigEndian.Uint64(buf[:])
	return nil
}

type logStoreCountSnapshot uint64

func (c logStoreCountSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(binary.BigEndian.AppendUint64(nil, uint64(c))); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (logStoreCountSnapshot) Release() {}

// logStoreSyncBuffer collects raft's log output, which raft writes from several goroutines.
type logStoreSyncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logStoreSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logStoreSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogStoreUnderRaft runs a real single-node raft on the store, restarts it on the same file,
// and checks that the log, the term and leadership come back.
func TestLogStoreUnderRaft(t *testing.T) {
	const commands = 100
	path := filepath.Join(t.TempDir(), "raft.db")
	snaps := raft.NewInmemSnapshotStore()
	logs := &logStoreSyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("raft log:\n%s", logs.String())
		}
	})
	conf := raft.DefaultConfig()
	conf.LocalID = "node-1"
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.LogOutput = logs

	start := func() (*raft.Raft, *LogStore, *logStoreCountingFSM, *raft.InmemTransport) {
		t.Helper()
		// Production stores fsync; so does this one, to exercise the path raft really uses.
		store, err := OpenLogStore(path, LogStoreOptions{})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		_, trans := raft.NewInmemTransport("node-1-addr")
		fsm := &logStoreCountingFSM{}
		r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
		if err != nil {
			t.Fatalf("new raft: %v", err)
		}
		return r, store, fsm, trans
	}
	stop := func(r *raft.Raft, store *LogStore, trans *raft.InmemTransport) {
		t.Helper()
		if err := r.Shutdown().Error(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		_ = trans.Close()
		if err := store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
	}

	r, store, fsm, trans := start()
	err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: conf.LocalID, Address: trans.LocalAddr()},
	}}).Error()
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "first leadership", func() bool { return r.State() == raft.Leader })
	for i := range commands {
		if err := r.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	if got := fsm.count(); got != commands {
		t.Fatalf("fsm applied %d commands, want %d", got, commands)
	}
	stop(r, store, trans)

	// Inspect the file between the two lives: the log and the term must be on disk.
	store = openTestLogStore(t, path)
	term1, err := store.GetUint64([]byte("CurrentTerm"))
	if err != nil || term1 == 0 {
		t.Fatalf("CurrentTerm after first run = %d, %v; want a positive term", term1, err)
	}
	last1, err := store.LastIndex()
	if err != nil || last1 < commands {
		t.Fatalf("LastIndex after first run = %d, %v; want at least %d", last1, err, commands)
	}
	var seen int
	for i := uint64(1); i <= last1; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		if l.Type == raft.LogCommand {
			if want := fmt.Sprintf("cmd-%d", seen); string(l.Data) != want {
				t.Fatalf("entry %d holds %q, want %q", i, l.Data, want)
			}
			seen++
		}
	}
	if seen != commands {
		t.Fatalf("found %d commands in the log, want %d", seen, commands)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	r, store, fsm, trans = start()
	defer stop(r, store, trans)
	testutil.WaitFor(t, 10*time.Second, "leadership after restart", func() bool { return r.State() == raft.Leader })
	// A new leader commits an entry of its own term, which lets it apply the old log again.
	testutil.WaitFor(t, 10*time.Second, "replay of the old log", func() bool { return fsm.count() == commands })
	if err := r.Apply([]byte("after restart"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply after restart: %v", err)
	}
	term2, err := strconv.ParseUint(r.Stats()["term"], 10, 64)
	if err != nil || term2 <= term1 {
		t.Errorf("term after restart = %d, %v; want above %d", term2, err, term1)
	}
	if last2, err := store.LastIndex(); err != nil || last2 <= last1 {
		t.Errorf("LastIndex after restart = %d, %v; want above %d", last2, err, last1)
	}
}
