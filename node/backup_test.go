package node

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// backupOf asks tn for a backup as who and receives it into dir.
func backupOf(t *testing.T, tn *testNode, who, body, dir string) (BackupManifest, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/admin/backup", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tn.tokens[who])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return BackupManifest{}, errors.New(resp.Status + " " + string(b))
	}
	return ReceiveBackup(resp.Body, dir)
}

func TestBackupWhileServingThenRestore(t *testing.T) {
	tn := startNode(t, t.TempDir())
	if r := tn.importLines(t, "fr", jsonLines(recordsN(3000, "FR")...)); r.Accepted != 3000 {
		t.Fatalf("import %+v", r)
	}
	if r := tn.importLines(t, "de", jsonLines(recordsN(1000, "DE")...)); r.Accepted != 1000 {
		t.Fatalf("import %+v", r)
	}

	if _, err := backupOf(t, tn, "fr", "", filepath.Join(t.TempDir(), "b")); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a recorder's backup: %v", err)
	}
	if _, err := backupOf(t, tn, "admin", `{"identity":true}`, filepath.Join(t.TempDir(), "b")); err == nil || !strings.Contains(err.Error(), "no_identity") {
		t.Fatalf("identity of a node without one: %v", err)
	}

	// Searches and writes go on while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var searches, failures atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if a := tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "GLK000042", "make": "Glock"}); a.status != 200 {
				failures.Add(1)
			}
			searches.Add(1)
		}
	}()
	dir := filepath.Join(t.TempDir(), "backup")
	m, err := backupOf(t, tn, "admin", "", dir)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if failures.Load() > 0 {
		t.Fatalf("%d of %d searches failed during the backup", failures.Load(), searches.Load())
	}
	want := map[string]wire.ShardStatus{}
	for _, s := range tn.Shards() {
		want[s.Shard] = s
	}
	if len(m.Shards) != len(want) || m.Node != tn.cfg.Name || m.Format != BackupFormat || m.Identity {
		t.Fatalf("manifest %+v", m)
	}
	for _, s := range m.Shards {
		if w := want[s.Shard]; s.AppliedIndex != w.AppliedIndex || s.Records != w.Records || s.Digest != w.Digest {
			t.Fatalf("shard %s in the backup %+v, on the node %+v", s.Shard, s.BackupMeta, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Fatal(err)
	}
	// Written after the backup: not restored.
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-LATE", "LATE1")); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	tn.srv.Close()
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}

	// A damaged file is refused, and named.
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := copyTree(dir, damaged); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(damaged, "shards", "europe", "state.db")
	raw, _ := os.ReadFile(p)
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreBackup(damaged, filepath.Join(t.TempDir(), "data"), RestoreOptions{Now: time.Now}); !errors.Is(err, ErrDamagedBackup) || !strings.Contains(err.Error(), "shards/europe/state.db") {
		t.Fatalf("restore of a damaged backup: %v", err)
	}

	data := filepath.Join(t.TempDir(), "data")
	res, err := RestoreBackup(dir, data, RestoreOptions{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Audit.OK() || res.Audit.Entries == 0 {
		t.Fatalf("audit of the restored node.db: %+v", res.Audit)
	}
	if _, err := RestoreBackup(dir, data, RestoreOptions{Now: time.Now}); err == nil {
		t.Fatal("a restore over an existing data dir was not refused")
	}
	rn := startNode(t, data)
	for _, s := range rn.Shards() {
		w := want[s.Shard]
		if s.AppliedIndex < w.AppliedIndex || s.Records != w.Records || s.Digest != w.Digest {
			t.Fatalf("restored shard %+v, backed up %+v", s, w)
		}
	}
	if a := rn.json(t, "fr", "GET", "/v1/records/FR-LATE", nil); a.status != 404 {
		t.Fatalf("a record written after the backup: %d", a.status)
	}
	var sr wire.SearchResponse
	rn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "GLK000042", "make": "Glock"}).decode(t, &sr)
	if len(sr.Results) == 0 || !sr.Results[0].Hit {
		t.Fatalf("search on the restored node: %+v", sr)
	}
	if a := rn.json(t, "fr", "POST", "/v1/records", frRecord("FR-AFTER", "AFTER1")); a.status != 201 {
		t.Fatalf("write on the restored node: %d %s", a.status, a.body)
	}
	rep, err := rn.audit.Verify()
	if err != nil || !rep.OK() {
		t.Fatalf("audit on the restored node: %+v %v", rep, err)
	}
}

func TestReceiveBackupRefusesACutStream(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(recordsN(500, "FR")...))
	var buf bytes.Buffer
	if err := tn.Backup(t.Context(), admin(t, tn), wire.BackupRequest{}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{buf.Len() / 3, buf.Len() - 2048} {
		if _, err := ReceiveBackup(bytes.NewReader(buf.Bytes()[:cut]), filepath.Join(t.TempDir(), "b")); !errors.Is(err, ErrDamagedBackup) {
			t.Fatalf("cut at %d of %d: %v", cut, buf.Len(), err)
		}
	}
	if _, err := ReceiveBackup(bytes.NewReader(buf.Bytes()), filepath.Join(t.TempDir(), "b")); err != nil {
		t.Fatal(err)
	}
}

func admin(t *testing.T, tn *testNode) auth.Principal {
	t.Helper()
	p, err := tn.Tokens().Authenticate(tn.tokens["admin"])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareBackupNamesTheNewestCopyOfEachShard(t *testing.T) {
	shard := func(name string, index uint64, digest string) BackupShard {
		s := BackupShard{Shard: name}
		s.AppliedIndex, s.Digest, s.Records = index, digest, 10
		return s
	}
	m := BackupManifest{Shards: []BackupShard{
		shard("africa", 10, "a"), shard("americas", 10, "b"), shard("asia", 10, "c"), shard("europe", 10, "d"), shard("mena", 10, "e"),
	}}
	survivors := []Survivor{
		{Name: "ncb-fr", Shards: []wire.ShardStatus{{Shard: "europe", AppliedIndex: 14, Digest: "d2"}, {Shard: "africa", AppliedIndex: 10, Digest: "a"}}},
		{Name: "edge-cdg", Shards: []wire.ShardStatus{{Shard: "europe", AppliedIndex: 12, Digest: "d1"}, {Shard: "americas", AppliedIndex: 7, Digest: "b0"}}},
		{Name: "edge-nbo", Shards: []wire.ShardStatus{{Shard: "mena", AppliedIndex: 10, Digest: "x"}}},
	}
	want := map[string]string{"africa": "same", "americas": "backup_newer", "asia": "backup_only", "europe": "newer_elsewhere", "mena": "diverged"}
	for _, l := range CompareBackup(m, survivors) {
		if l.Status != want[l.Shard] || l.Detail == "" {
			t.Errorf("%s: %s (%s), want %s", l.Shard, l.Status, l.Detail, want[l.Shard])
		}
		if l.Shard == "europe" && (l.Newest != "ncb-fr" || l.NewestIndex != 14) {
			t.Errorf("europe's newest copy: %s at %d", l.Newest, l.NewestIndex)
		}
	}
}
