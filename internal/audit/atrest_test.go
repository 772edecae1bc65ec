package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
)

// With a key, no searched serial is readable in node.db or the journal, whether the entries were
// folded or only journaled; the log, and an offline verify with the key, read them back.
func TestSealedEntriesAreNotReadableAtRest(t *testing.T) {
	key, err := atrest.NewKey(atrest.Generate())
	if err != nil {
		t.Fatal(err)
	}
	serial := []byte("QQSERIAL4711")
	l, db, path := newLog(t, Options{Journal: journalHere, Key: key, FoldEntries: 1 << 20})
	journal := filepath.Join(filepath.Dir(path), "audit.journal")
	ctx := context.Background()
	for i := range 20 {
		if i == 10 {
			if err := l.flush(); err != nil { // half in node.db, half only journaled
				t.Fatal(err)
			}
		}
		q, _ := json.Marshal(map[string]string{"serial": string(serial)})
		if _, err := l.Append(Entry{Agency: "FR-PAF", Action: "search", Query: q, Outcome: "hit"}).Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{path, journal} {
		if b, _ := os.ReadFile(p); bytes.Contains(b, serial) {
			t.Fatalf("%s holds the serial in clear", filepath.Base(p))
		}
	}
	rep, err := VerifySealedWithJournal(db, journal, key, nil)
	if err != nil || !rep.OK() || rep.Entries != 20 {
		t.Fatalf("offline verify with the key: %+v %v", rep, err)
	}
	if rep, err := VerifySealedWithJournal(db, journal, nil, nil); err == nil && rep.OK() {
		t.Fatal("an encrypted chain verified without its key")
	}
	tail, err := l.Tail(3)
	if err != nil || len(tail) != 3 || !bytes.Contains(tail[0].Query, serial) {
		t.Fatalf("tail: %+v %v", tail, err)
	}
	if rep, err := l.Verify(); err != nil || !rep.OK() || rep.Entries != 20 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// A sealed entry changed on disk without the key no longer opens: verify reports it changed.
func TestSealedEntryChangedOnDiskIsReported(t *testing.T) {
	key, _ := atrest.NewKey(atrest.Generate())
	l, db, _ := newLog(t, Options{Key: key})
	for range 3 {
		if _, err := l.Append(Entry{Agency: "FR-PAF", Action: "search", Outcome: "none"}).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		v := append([]byte(nil), b.Get(seqKey(2))...)
		v[len(v)-1] ^= 1
		return b.Put(seqKey(2), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify()
	if err != nil || rep.OK() || len(rep.Problems) == 0 || rep.Problems[0].Seq != 2 || rep.Problems[0].Kind != KindChanged {
		t.Fatalf("verify of a changed sealed entry: %+v %v", rep, err)
	}
}
