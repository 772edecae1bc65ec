package audit

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// cutTail removes the entries after keep and moves the head onto entry keep, leaving every
// remaining link intact: what someone with the file does to hide the last entries.
func cutTail(keep uint64) func(entries, meta *bbolt.Bucket) error {
	return func(entries, meta *bbolt.Bucket) error {
		var last uint64
		for k, _ := entries.Cursor().Last(); k != nil; k, _ = entries.Cursor().Last() {
			last = seqFromKey(k)
			if last <= keep {
				break
			}
			if err := entries.Delete(k); err != nil {
				return err
			}
		}
		e, err := decodeEntry(entries.Get(seqKey(keep)))
		if err != nil {
			return err
		}
		return writeHead(meta, head{Seq: keep, Hash: e.Hash})
	}
}

// reseal changes entry seq, then seals it and every later entry again and moves the head: the
// chain is intact, and says something else than it did.
func reseal(seq uint64, edit func(e *Entry)) func(entries, meta *bbolt.Bucket) error {
	return func(entries, meta *bbolt.Bucket) error {
		prev := ""
		if seq > 1 {
			e, err := decodeEntry(entries.Get(seqKey(seq - 1)))
			if err != nil {
				return err
			}
			prev = e.Hash
		}
		var h head
		for k, v := entries.Cursor().Seek(seqKey(seq)); k != nil; {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			if e.Seq == seq {
				edit(&e)
			}
			e.PrevHash, e.Hash = prev, ""
			canon, err := canonical(e)
			if err != nil {
				return err
			}
			e.Hash = chainHash(prev, canon)
			if err := entries.Put(k, withHash(canon, e.Hash)); err != nil {
				return err
			}
			prev, h = e.Hash, head{Seq: e.Seq, Hash: e.Hash}
			k, v = entries.Cursor().Seek(seqKey(e.Seq + 1))
		}
		return writeHead(meta, h)
	}
}

func seqFromKey(k []byte) uint64 {
	var s uint64
	for _, b := range k {
		s = s<<8 | uint64(b)
	}
	return s
}

// TestAnchorsCatchResealedChains runs the two rewrites a root user can do on a stopped node's files:
// each passes the chain's own check (as before anchors) and fails against the heads the node
// published earlier, naming the anchored seq.
func TestAnchorsCatchResealedChains(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		tests := []struct {
			name   string
			tamper func(entries, meta *bbolt.Bucket) error
			want   []string // "seq:kind" against the anchors at 10 and 20
		}{
			{"intact", func(_, _ *bbolt.Bucket) error { return nil }, nil},
			{"last entries cut and head moved", cutTail(15), []string{"20:anchor_cut"}},
			{"old entry changed and the rest resealed",
				reseal(5, func(e *Entry) { e.ResultIDs = nil }), []string{"10:anchor_mismatch", "20:anchor_mismatch"}},
			{"entry after the last anchor resealed", reseal(21, func(e *Entry) { e.Outcome = "denied" }), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l, rw, path := newLog(t, m.opts(Options{}))
				var anchors []Anchor
				for range 2 {
					appendN(t, l, 10)
					a, err := l.Head()
					if err != nil {
						t.Fatal(err)
					}
					a.Time = time.Date(2026, 12, 1, 10, len(anchors), 0, 0, time.UTC)
					anchors = append(anchors, a)
				}
				appendN(t, l, 5) // after the last anchor: not vouched for by any
				if anchors[0].Seq != 10 || anchors[1].Seq != 20 {
					t.Fatalf("heads %+v, want seqs 10 and 20", anchors)
				}
				tamper(t, l, tt.tamper)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if err := rw.Close(); err != nil {
					t.Fatal(err)
				}
				// Offline, as `fedarms audit verify --data` reads a stopped node's files.
				db := reopenReadOnly(t, path)
				journal := filepath.Join(filepath.Dir(path), "audit.journal")
				plain, err := VerifyWithJournal(db, journal)
				if err != nil {
					t.Fatal(err)
				}
				if !plain.OK() {
					t.Fatalf("the chain alone should look intact after %s: %+v", tt.name, plain.Problems)
				}
				r, err := VerifyWithJournalAnchored(db, journal, anchors)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range r.Problems {
					got = append(got, fmt.Sprintf("%d:%s", p.Seq, p.Kind))
					if !strings.Contains(p.Detail, "2026-12-01T10:0") {
						t.Errorf("problem %q does not name the anchor's time", p.Detail)
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("problems %v, want %v\n%+v", got, tt.want, r.Problems)
				}
				if r.Anchors != 2 {
					t.Errorf("checked %d anchors, want 2", r.Anchors)
				}
			})
		}
	})
}

func TestVerifyAnchoredOnline(t *testing.T) {
	l, _, _ := newLog(t, Options{Journal: journalHere})
	appendN(t, l, 7)
	a, err := l.Head()
	if err != nil || a.Seq != 7 || len(a.Hash) != 64 {
		t.Fatalf("head %+v, %v", a, err)
	}
	r, err := l.VerifyAnchored([]Anchor{a, {Seq: 0}})
	if err != nil || !r.OK() || r.Anchors != 1 {
		t.Fatalf("intact chain: %+v, %v", r, err)
	}
	r, err = l.VerifyAnchored([]Anchor{{Seq: 3, Hash: strings.Repeat("0", 64)}, {Seq: 9, Hash: a.Hash}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 2 || r.Problems[0].Kind != KindAnchorMismatch || r.Problems[1].Kind != KindAnchorCut || r.Problems[1].Seq != 9 {
		t.Fatalf("problems %+v", r.Problems)
	}
}

func reopenReadOnly(t *testing.T, path string) *bbolt.DB {
	t.Helper()
	return openDB(t, path, true)
}
