package audit

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// tamper edits the audit buckets directly, as someone with access to the file could.
func tamper(t *testing.T, l *Log, fn func(entries, meta *bbolt.Bucket) error) {
	t.Helper()
	settled(t, l)
	err := l.db.Update(func(tx *bbolt.Tx) error {
		return fn(tx.Bucket(bucketEntries), tx.Bucket(bucketMeta))
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

// rewrite decodes entry seq, lets edit change it and stores it back with its hash untouched.
func rewrite(seq uint64, edit func(e *Entry)) func(entries, meta *bbolt.Bucket) error {
	return func(entries, meta *bbolt.Bucket) error {
		e, err := decodeEntry(entries.Get(seqKey(seq)))
		if err != nil {
			return err
		}
		edit(&e)
		canon, err := canonical(e)
		if err != nil {
			return err
		}
		return entries.Put(seqKey(seq), withHash(canon, e.Hash))
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		const n = 20
		tests := []struct {
			name   string
			tamper func(entries, meta *bbolt.Bucket) error
			want   []string // "seq:kind", in the order reported
		}{
			{"intact", func(_, _ *bbolt.Bucket) error { return nil }, nil},
			{"outcome of a middle entry changed",
				rewrite(10, func(e *Entry) { e.Outcome = "denied" }), []string{"10:changed"}},
			{"result removed from a middle entry",
				rewrite(7, func(e *Entry) { e.ResultIDs = nil }), []string{"7:changed"}},
			{"middle entry changed and rehashed",
				rewrite(10, func(e *Entry) {
					e.Agency = "XX-NCB"
					canon, _ := canonical(*e)
					e.Hash = chainHash(e.PrevHash, canon)
				}), []string{"11:bad_link"}},
			{"middle entry deleted",
				func(entries, _ *bbolt.Bucket) error { return entries.Delete(seqKey(10)) }, []string{"10:missing"}},
			{"first entry deleted",
				func(entries, _ *bbolt.Bucket) error { return entries.Delete(seqKey(1)) }, []string{"1:missing"}},
			{"last entry deleted",
				func(entries, _ *bbolt.Bucket) error { return entries.Delete(seqKey(n)) }, []string{"20:head_mismatch"}},
			{"head removed",
				func(_, meta *bbolt.Bucket) error { return meta.Delete(keyHead) }, []string{"20:head_mismatch"}},
			{"undecodable entry",
				func(entries, _ *bbolt.Bucket) error { return entries.Put(seqKey(7), []byte("{garbage")) }, []string{"7:changed"}},
			{"whitespace added",
				func(entries, _ *bbolt.Bucket) error {
					v := slices.Clone(entries.Get(seqKey(3)))
					return entries.Put(seqKey(3), append([]byte(" "), v...))
				}, []string{"3:changed"}},
			{"two entries swapped",
				func(entries, _ *bbolt.Bucket) error {
					a, b := slices.Clone(entries.Get(seqKey(5))), slices.Clone(entries.Get(seqKey(6)))
					if err := entries.Put(seqKey(5), b); err != nil {
						return err
					}
					return entries.Put(seqKey(6), a)
				}, []string{"5:out_of_order", "5:bad_link", "6:out_of_order", "6:bad_link", "7:bad_link"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l, _, _ := newLog(t, m.opts(Options{}))
				appendN(t, l, n)
				tamper(t, l, tt.tamper)
				r, err := l.Verify()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range r.Problems {
					got = append(got, fmt.Sprintf("%d:%s", p.Seq, p.Kind))
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("problems %v, want %v\n%+v", got, tt.want, r.Problems)
				}
				if r.OK() != (len(tt.want) == 0) {
					t.Errorf("OK() = %v with problems %v", r.OK(), got)
				}
			})
		}
	})
}

func TestVerifyReadOnlyFile(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, path := newLog(t, m.opts(Options{}))
		entries := appendN(t, l, 30)
		tamper(t, l, rewrite(12, func(e *Entry) { e.OnBehalfOf = "KE-CUSTOMS" }))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		ro := openDB(t, path, true)
		r, err := VerifyWithJournal(ro, filepath.Join(filepath.Dir(path), "audit.journal"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Entries != 30 || r.Head != entries[29].Hash {
			t.Errorf("entries %d head %s, want 30 and %s", r.Entries, r.Head, entries[29].Hash)
		}
		if len(r.Problems) != 1 || r.Problems[0].Seq != 12 || r.Problems[0].Kind != KindChanged {
			t.Errorf("problems %+v, want one change at 12", r.Problems)
		}
		if r.Journaled != 0 {
			t.Errorf("%d entries left in the journal of a closed log", r.Journaled)
		}
	})
}

func TestVerifyLongChain(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		var want []Entry
		// Mix both append paths, as a node does (searches with hits use AppendTx).
		for i := range 500 {
			if i%3 == 0 {
				e := searchEntry(i)
				if err := db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) }); err != nil {
					t.Fatal(err)
				}
				want = append(want, e)
				continue
			}
			want = append(want, appendN(t, l, 1)...)
		}
		r := mustVerifyOK(t, l, 500)
		if r.Head != want[499].Hash {
			t.Errorf("head %s, want %s", r.Head, want[499].Hash)
		}
	})
}

func TestVerifyEmptyAndFreshFile(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, _, _ := newLog(t, m.opts(Options{}))
		mustVerifyOK(t, l, 0)
		bare := openDB(t, t.TempDir()+"/bare.db", false)
		if r, err := VerifyWithJournal(bare, ""); err != nil || !r.OK() || r.Entries != 0 {
			t.Errorf("fresh file: %v %+v", err, r)
		}
	})
}

func TestTailAndSince(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, _, _ := newLog(t, m.opts(Options{Now: func() time.Time { return time.Unix(0, 0) }}))
		appendN(t, l, 10)
		seqs := func(es []Entry) []uint64 {
			var s []uint64
			for _, e := range es {
				s = append(s, e.Seq)
			}
			return s
		}
		tests := []struct {
			name string
			get  func() ([]Entry, error)
			want []uint64
		}{
			{"tail 3", func() ([]Entry, error) { return l.Tail(3) }, []uint64{8, 9, 10}},
			{"tail more than present", func() ([]Entry, error) { return l.Tail(50) }, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
			{"tail 0", func() ([]Entry, error) { return l.Tail(0) }, nil},
			{"since 0 limit 2", func() ([]Entry, error) { return l.Since(0, 2) }, []uint64{1, 2}},
			{"since 7 no limit", func() ([]Entry, error) { return l.Since(7, 0) }, []uint64{8, 9, 10}},
			{"since last", func() ([]Entry, error) { return l.Since(10, 5) }, nil},
			{"since max", func() ([]Entry, error) { return l.Since(^uint64(0), 5) }, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.get()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(seqs(got), tt.want) {
					t.Errorf("seqs %v, want %v", seqs(got), tt.want)
				}
			})
		}
	})
}
