package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// crashed is what a killed node leaves: node.db as of its last commit and the journal as written.
type crashed struct {
	db      []byte
	journal []byte
}

// crash copies the files of a log that is still open and never closed, as a kill -9 or a power cut
// would leave them. The log must not be folding (use noFold): node.db then is exactly its last
// commit, since bbolt writes committed pages only.
func crash(t *testing.T, path string) crashed {
	t.Helper()
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(filepath.Join(filepath.Dir(path), "audit.journal"))
	if err != nil {
		t.Fatal(err)
	}
	return crashed{db: db, journal: j}
}

// restart writes the files into a new directory and opens a log on them, as the node's next start.
func (c crashed) restart(t *testing.T, journal []byte) (*Log, *bbolt.DB, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "node.db")
	if err := os.WriteFile(path, c.db, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit.journal"), journal, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path, false)
	l, err := Open(db, Options{Journal: filepath.Join(dir, "audit.journal"), Now: fakeClock(), JournalChunk: 64 << 10})
	if err != nil {
		return nil, db, err
	}
	t.Cleanup(func() { l.Close() })
	return l, db, nil
}

// frames lists the intact frames of a journal.
func frames(t *testing.T, journal []byte) []frame {
	t.Helper()
	fs, _, err := scanJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func frameEnd(f frame) int {
	n := int(f.off) + frameHeader + 4
	for _, v := range f.values {
		n += 4 + len(v)
	}
	return n
}

func TestRecoverAfterCrash(t *testing.T) {
	l, _, path := newLog(t, noFold)
	appendN(t, l, 4)
	settled(t, l) // 4 entries in node.db, the next ones only in the journal
	acked := appendN(t, l, 6)
	c := crash(t, path)

	l2, db2, err := c.restart(t, c.journal)
	if err != nil {
		t.Fatal(err)
	}
	recovered := mustRead(t, db2.Path()) // nothing is journaled yet, so nothing folds meanwhile
	r := mustVerifyOK(t, l2, 10)
	if r.Head != acked[5].Hash {
		t.Errorf("head %s after recovery, want the last acknowledged %s", r.Head, acked[5].Hash)
	}
	if e := appendN(t, l2, 1)[0]; e.Seq != 11 || e.PrevHash != acked[5].Hash {
		t.Errorf("first entry after recovery: seq %d prev %s", e.Seq, e.PrevHash)
	}
	// A crash after recovery folded but before it emptied the journal: nothing is folded twice.
	l3, _, err := crashed{db: recovered}.restart(t, c.journal)
	if err != nil {
		t.Fatal(err)
	}
	l3.Close()
	mustVerifyOK(t, l3, 10)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecoverTornTail cuts the journal at every byte of its last frame, and also leaves the frame's
// bytes unwritten (zeros) from every offset, as a crash during its write would: the earlier entries
// all come back, the last batch only when it is whole. Every cut is checked the way Open reads the
// journal; a full restart (recovery, then Verify) runs at the frame's edges and every 16th byte,
// since each costs a few fsyncs of fresh files.
func TestRecoverTornTail(t *testing.T) {
	l, _, path := newLog(t, noFold)
	acked := appendN(t, l, 3) // three frames of one entry
	c := crash(t, path)
	fs := frames(t, c.journal)
	if len(fs) != 3 {
		t.Fatalf("%d frames, want 3", len(fs))
	}
	start, end := int(fs[2].off), frameEnd(fs[2])
	for cut := start; cut <= end; cut++ {
		want := 2
		if cut == end {
			want = 3
		}
		torn := [][]byte{c.journal[:cut]}
		if cut < end {
			zeroed := bytes.Clone(c.journal)
			clear(zeroed[cut:end])
			torn = append(torn, zeroed)
		}
		for _, j := range torn {
			live, err := journaled(j, head{}, nil)
			if err != nil || len(live) != want || live[want-1].hash != acked[want-1].Hash {
				t.Fatalf("cut at %d: %v, %d entries, want %d", cut, err, len(live), want)
			}
			if cut-start > frameHeader+4 && end-cut > 4 && (cut-start)%16 != 0 {
				continue
			}
			l2, _, err := c.restart(t, j)
			if err != nil {
				t.Fatalf("cut at %d: %v", cut, err)
			}
			l2.Close()
			mustVerifyOK(t, l2, uint64(want))
		}
	}
}

func TestRecoverDamagedFrame(t *testing.T) {
	l, _, path := newLog(t, noFold)
	appendN(t, l, 2)
	settled(t, l)
	appendN(t, l, 3) // frames 1 and 2 are folded, 3 to 5 are not
	c := crash(t, path)
	fs := frames(t, c.journal)
	if len(fs) != 3 {
		t.Fatalf("%d frames after the fold, want 3 (the fold rewinds the journal)", len(fs))
	}
	damage := func(off int) []byte {
		j := bytes.Clone(c.journal)
		j[off] ^= 0x40
		return j
	}
	tests := []struct {
		name    string
		journal []byte
		want    uint64 // entries after recovery; 0 when Open must fail
	}{
		{"intact", c.journal, 5},
		{"payload of a middle frame", damage(int(fs[1].off) + 40), 0},
		{"length of a middle frame", damage(int(fs[1].off) + 1), 0},
		{"checksum of the first frame", damage(int(fs[0].off) + 5), 0},
		{"payload of the last frame (a torn tail)", damage(int(fs[2].off) + 40), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l2, _, err := c.restart(t, tt.journal)
			if tt.want == 0 {
				if !errors.Is(err, ErrJournalDamaged) || !strings.Contains(err.Error(), "does not follow") {
					t.Fatalf("Open: %v, want ErrJournalDamaged", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l2.Close()
			mustVerifyOK(t, l2, tt.want)
		})
	}
}

// TestRecoverSkipsRewoundFrames: after a fold the writer overwrites the journal from its start, so
// whole frames of folded entries remain behind the live ones; recovery must neither refold them nor
// take them for a hole.
func TestRecoverSkipsRewoundFrames(t *testing.T) {
	l, _, path := newLog(t, noFold)
	appendN(t, l, 6)
	settled(t, l)
	acked := appendN(t, l, 2) // overwrite frames 1 and 2; frames 3 to 6 (entries 3 to 6) remain
	c := crash(t, path)
	fs := frames(t, c.journal)
	if len(fs) < 5 {
		t.Fatalf("%d intact frames, want the 2 live ones and the leftovers", len(fs))
	}
	l2, _, err := c.restart(t, c.journal)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if r := mustVerifyOK(t, l2, 8); r.Head != acked[1].Hash {
		t.Errorf("head %s, want %s", r.Head, acked[1].Hash)
	}
}

func TestRecoverRefusesAForeignJournal(t *testing.T) {
	// Two logs with different entries: the journal of one does not continue the other's chain.
	la, _, pa := newLog(t, noFold)
	appendN(t, la, 5)
	a := crash(t, pa)
	lb, _, pb := newLog(t, Options{Journal: journalHere, Now: func() time.Time { return time.Unix(0, 0) }})
	appendN(t, lb, 3)
	settled(t, lb)
	b := crash(t, pb)
	if _, _, err := b.restart(t, a.journal); !errors.Is(err, ErrJournalDamaged) {
		t.Fatalf("Open with a foreign journal: %v, want ErrJournalDamaged", err)
	}
	if _, _, err := b.restart(t, []byte("not a journal at all")); err == nil {
		t.Fatal("Open accepted a file that is not a journal")
	}
}

// TestOfflineReadsJournal is what `audit verify --data` sees of a killed node: node.db alone misses
// the journaled entries, VerifyWithJournal counts them.
func TestOfflineReadsJournal(t *testing.T) {
	l, _, path := newLog(t, noFold)
	appendN(t, l, 3)
	settled(t, l)
	acked := appendN(t, l, 4)
	c := crash(t, path)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node.db"), c.db, 0o600); err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(dir, "audit.journal")
	if err := os.WriteFile(jpath, c.journal, 0o600); err != nil {
		t.Fatal(err)
	}
	ro := openDB(t, filepath.Join(dir, "node.db"), true)
	if r, err := VerifyWithJournal(ro, ""); err != nil || !r.OK() || r.Entries != 3 {
		t.Fatalf("node.db alone: %v %+v", err, r)
	}
	pending, err := ReadJournal(ro, jpath)
	if err != nil || len(pending) != 4 || pending[3].Hash != acked[3].Hash {
		t.Fatalf("ReadJournal: %v, %d entries", err, len(pending))
	}
	r, err := VerifyWithJournal(ro, jpath)
	if err != nil || !r.OK() || r.Entries != 7 || r.Journaled != 4 || r.Head != acked[3].Hash {
		t.Fatalf("VerifyWithJournal: %v %+v", err, r)
	}
	if r, err := VerifyWithJournal(ro, filepath.Join(dir, "missing.journal")); err != nil || !r.OK() || r.Entries != 3 {
		t.Errorf("VerifyWithJournal without a journal: %v %+v", err, r)
	}
	fs := frames(t, c.journal)
	damaged := bytes.Clone(c.journal)
	damaged[fs[1].off+40] ^= 0x40
	if err := os.WriteFile(jpath, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err = VerifyWithJournal(ro, jpath)
	if err != nil || r.OK() || r.Problems[0].Kind != KindJournal {
		t.Errorf("VerifyWithJournal of a damaged journal: %v %+v", err, r)
	}
}
