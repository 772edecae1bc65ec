package node

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/wire"
)

// On an encrypted dir, the searches a central node keeps for other members are sealed in node.db
// (the serial is not in the file) and read back after a reopen; with another key they do not
// open, and are dropped rather than misread.
func TestLateHandedWindowSealedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.NewKey(seal.Generate())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const serial = "QZX7731945"
	w := newHandedWindow(72*time.Hour, 10, key)
	h := lateHandover{SearchID: "s-1", At: now, Agency: "FR-CUSTOMS", Origin: "edge-cdg",
		Shards: []string{"africa"}, Request: wire.SearchRequest{Serial: serial, Make: "Beretta"}}
	if refused, err := w.keep(db, []lateHandover{h}); err != nil || len(refused) != 0 {
		t.Fatalf("keep: refused %v, %v", refused, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(serial)) || bytes.Contains(raw, []byte("Beretta")) {
		t.Fatal("node.db holds the handed-over search in clear")
	}
	if db, err = bolt.Open(path, 0o600, nil); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again := newHandedWindow(72*time.Hour, 10, key)
	if err := again.load(db, now.Add(time.Hour)); err != nil || again.counts()["edge-cdg"] != 1 {
		t.Fatalf("reopened with its key: %v, window %v", err, again.counts())
	}
	other, _ := seal.NewKey(seal.Generate())
	wrong := newHandedWindow(72*time.Hour, 10, other)
	if err := wrong.load(db, now.Add(time.Hour)); err != nil || wrong.counts()["edge-cdg"] != 0 {
		t.Fatalf("opened with another key: %v, window %v", err, wrong.counts())
	}
}
