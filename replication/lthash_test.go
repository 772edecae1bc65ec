package replication

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
)

func TestStateHashIsOfTheSetWhateverTheOrder(t *testing.T) {
	var a, b, empty StateHash
	kv := [][2]string{{"FR-1", "one"}, {"FR-2", "two"}, {"FR-3", "three"}}
	for _, p := range kv {
		a.add([]byte(p[0]), []byte(p[1]))
	}
	for i := len(kv) - 1; i >= 0; i-- {
		b.add([]byte(kv[i][0]), []byte(kv[i][1]))
	}
	if a != b {
		t.Fatal("same records in another order give another hash")
	}
	b.remove([]byte("FR-2"), []byte("two"))
	if a == b {
		t.Fatal("removing a record left the hash unchanged")
	}
	b.add([]byte("FR-2"), []byte("two"))
	if a != b {
		t.Fatal("remove then add does not give the hash back")
	}
	// Key and value are separated: moving bytes from one to the other changes the hash.
	var c, d StateHash
	c.add([]byte("FR-1"), []byte("xone"))
	d.add([]byte("FR-1x"), []byte("one"))
	if c == d || c == empty {
		t.Fatal("key and value are not separated")
	}
}

// writeRecords applies n records (ids FR-<i>) to s in transactions of batch, from raft index at.
func writeRecords(t testing.TB, s *State, at uint64, n, batch int) uint64 {
	t.Helper()
	for i := 0; i < n; i += batch {
		cmd := &Command{Op: OpUpsert, Principal: Principal{Country: "FR"}}
		for j := i; j < min(i+batch, n); j++ {
			cmd.Records = append(cmd.Records, rec(fmt.Sprintf("FR-%07d", j), "FR", fmt.Sprintf("S%d", j)))
		}
		at++
		var res Result
		if _, err := s.applyBatch([]appliedEntry{{index: at, term: 1, cmd: cmd, result: &res}}); err != nil {
			t.Fatal(err)
		}
	}
	return at
}

// hashOfRecords computes the hash of a state's records from scratch.
func hashOfRecords(t testing.TB, s *State) StateHash {
	var h StateHash
	var buf []byte
	if err := s.ForEach(func(r *record.Record) error {
		buf = r.AppendBinary(buf[:0])
		h.add([]byte(r.ID), buf)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// A release before the hash ignores its meta key and applies entries without updating it; this
// release then finds the hash is of an older index and computes it again from the records.
func TestStateHashRecomputedAfterAnOlderReleaseApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	at := writeRecords(t, s, 0, 300, 100)
	if s.Hash() != hashOfRecords(t, s) {
		t.Fatal("kept hash differs from the records' hash")
	}
	s.Close()
	// What the older release does: a record and the meta it knows, not the hash.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rec("FR-9000000", "FR", "OLD")
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRecords).Put([]byte(r.ID), r.AppendBinary(nil)); err != nil {
			return err
		}
		var m stateMirror
		m.load(tx.Bucket(bucketMeta))
		st := m.get()
		st.AppliedIndex, st.Records = at+1, st.Records+1
		return writeMeta(tx.Bucket(bucketMeta), st)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Hash() != hashOfRecords(t, s) {
		t.Fatal("hash not recomputed for the records an older release applied")
	}
	if _, found, _ := s.Get(r.ID); !found {
		t.Fatal("record lost")
	}
}

// TestStateHashScanAtScale measures the one-time computation of the hash of a state written by a
// release before it. Opt-in: FEDARMS_SCALE_HASH_RECORDS=1400000.
func TestStateHashScanAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FEDARMS_SCALE_HASH_RECORDS"))
	if n == 0 {
		t.Skip("opt-in: set FEDARMS_SCALE_HASH_RECORDS")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	writeRecords(t, s, 0, n, 10000)
	t.Logf("%d records written (with the hash kept current) in %v", n, time.Since(start))
	want := s.Hash()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyStateHash) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	start = time.Now()
	s, err = OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("state hash of %d records computed at open in %v", n, time.Since(start))
	if s.Hash() != want {
		t.Fatal("scanned hash differs from the one kept current")
	}
}

func TestStateHashRingPicksInRange(t *testing.T) {
	var s stateHash
	var h StateHash
	s.reset(0, &h)
	for _, i := range []uint64{3, 7, 7, 12, 20} {
		h[0] = uint16(i)
		s.set(i, &h)
	}
	for _, tc := range []struct {
		after, want, limit, got uint64
		ok                      bool
	}{
		{0, 10, 100, 7, true},   // the highest at or below want
		{7, 10, 100, 12, true},  // none at or below want after 7: the lowest above
		{7, 10, 11, 0, false},   // nothing in (7, 11]
		{0, 100, 15, 12, true},  // limit bounds it
		{20, 30, 100, 0, false}, // nothing after the newest
	} {
		p, ok := s.pick(tc.after, tc.want, tc.limit)
		if ok != tc.ok || (ok && (p.index != tc.got || p.hash[0] != uint16(tc.got))) {
			t.Errorf("pick(%d, %d, %d) = %d %v, want %d %v", tc.after, tc.want, tc.limit, p.index, ok, tc.got, tc.ok)
		}
	}
	if s.n != 5 {
		t.Fatalf("ring holds %d pairs; a repeated index must not add one", s.n)
	}
}
