package node

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
)

// A central node whose data dir is lost is restored from its backup (with its key) and rejoins:
// every shard takes the entries written since the backup from the others, and it is a voter again.
// The loss report, made before the restore against the survivors, says europe is newer elsewhere.
func TestFederationCentralRestoredFromBackupRejoins(t *testing.T) {
	fc := startFederation(t, []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
	}, nil)
	fc.importAt("lyon-1", fc.admin(), fedRecords("FR", 0, 500))
	testutil.WaitFor(t, 30*time.Second, "every copy to converge", fc.converged)

	lost := fc.nodes["lyon-2"]
	cfg := lost.cfg
	var tarball bytes.Buffer
	if err := lost.Backup(t.Context(), fc.admin(), wire.BackupRequest{Identity: true}, &tarball); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	m, err := ReceiveBackup(&tarball, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Identity || m.Control == nil || len(m.Shards) != len(lost.held) {
		t.Fatalf("manifest %+v", m)
	}

	fc.importAt("lyon-1", fc.admin(), fedRecords("FR", 500, 1500))
	testutil.WaitFor(t, 30*time.Second, "every copy to converge", fc.converged)
	lost.Close()
	delete(fc.nodes, "lyon-2")
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}

	var survivors []Survivor
	for _, name := range []string{"lyon-1", "ncb-fr"} {
		survivors = append(survivors, Survivor{Name: name, Shards: fc.nodes[name].Shards()})
	}
	for _, l := range CompareBackup(m, survivors) {
		want := "same"
		if l.Shard == "europe" {
			want = "newer_elsewhere"
		}
		if l.Status != want {
			t.Errorf("report for %s: %s (%s), want %s", l.Shard, l.Status, l.Detail, want)
		}
	}

	// A survivor's backup, taken after the loss, tells which records the rebuild takes from it.
	var sb bytes.Buffer
	if err := fc.nodes["ncb-fr"].Backup(t.Context(), fc.admin(), wire.BackupRequest{}, &sb); err != nil {
		t.Fatal(err)
	}
	sdir := filepath.Join(t.TempDir(), "ncb-fr")
	sm, err := ReceiveBackup(&sb, sdir)
	if err != nil {
		t.Fatal(err)
	}
	rep := CompareBackup(m, []Survivor{SurvivorFromBackup(sdir, sm)})
	if err := DescribeChanges(dir, rep, []Survivor{SurvivorFromBackup(sdir, sm)}, 10); err != nil {
		t.Fatal(err)
	}
	for _, l := range rep {
		if l.Shard != "europe" {
			continue
		}
		if l.Status != "newer_elsewhere" || l.Changes == nil || l.Changes.AddedCount != 1000 || l.Changes.ChangedCount != 0 ||
			l.Changes.RemovedCount != 0 || len(l.Changes.Added) != 10 || l.Changes.Added[0] != "FR-000500" {
			t.Fatalf("europe against ncb-fr's backup: %+v %+v", l, l.Changes)
		}
	}

	if _, err := RestoreBackup(dir, cfg.DataDir, RestoreOptions{Now: time.Now}); err != nil {
		t.Fatal(err)
	}
	n, err := Open(cfg, Options{Logger: testLogger(t, "lyon-2")})
	if err != nil {
		t.Fatal(err)
	}
	fc.nodes["lyon-2"] = n
	testutil.WaitFor(t, 60*time.Second, "the restored node to catch up", func() bool {
		for _, s := range n.Shards() {
			if s.Shard == "europe" && s.Records != 1500 {
				return false
			}
		}
		return fc.converged()
	})
	for _, s := range n.Shards() {
		if s.Role != "voter" {
			t.Fatalf("restored central node is a %s of %s", s.Role, s.Shard)
		}
	}
	// It takes part in writes again.
	fc.importAt("lyon-2", fc.admin(), fedRecords("FR", 1500, 1600))
	testutil.WaitFor(t, 30*time.Second, "every copy to converge", fc.converged)
}
