package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// The known record of these tests: every part of it that a lost device must not give away.
var (
	secretSerial = "ZQ7XSERIAL4711"
	secretModel  = "QXMODEL88"
)

// readableIn lists the files under dir (and how many) holding any of needles.
func readableIn(t *testing.T, dir string, needles ...string) (found []string, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			for _, v := range []string{n, strings.ToLower(n)} {
				if bytes.Contains(b, []byte(v)) {
					found = append(found, path+" ("+v+")")
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, files
}

// useTheRecord imports the known record, searches it (a hit, its audit entry, the searched query
// in the late window), decides the hit, and snapshots every shard so snapshot files exist too.
func useTheRecord(t *testing.T, tn *testNode) {
	t.Helper()
	r := frRecord("FR-SECRET-1", secretSerial)
	r.Model = secretModel
	tn.importLines(t, "fr", jsonLines(r))
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": secretSerial, "make": "glock", "model": secretModel, "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 || !resp.Results[0].Hit {
		t.Fatalf("no hit: %+v", resp.Results)
	}
	if a := tn.json(t, "fr", "POST", "/v1/hits/"+resp.Results[0].NotificationID+"/decision", map[string]string{"decision": "confirmed", "comment": "seized"}); a.status != 200 {
		t.Fatalf("decision: %d %s", a.status, a.body)
	}
	for _, s := range tn.held {
		if err := tn.groups[s].Snapshot(); err != nil {
			t.Fatalf("snapshot %s: %v", s, err)
		}
	}
}

// An edge's data dir holds nothing readable of a record, its hit or its search: every file the
// node writes (shard states, raft logs, snapshots, node.db, the audit journal), after use and after
// a restart that reads everything back.
func TestDataDirHoldsNoSerialAtRest(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, dir)
	useTheRecord(t, tn)
	if h := tn.Health(); !strings.HasPrefix(h.Checks["at_rest"].Detail, "encrypted") {
		t.Fatalf("at_rest: %+v", h.Checks["at_rest"])
	}
	tn.srv.Close()
	tn.Close()

	tn = startNode(t, dir)
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": secretSerial, "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 || resp.Results[0].Record.Serial != secretSerial {
		t.Fatalf("after restart the record is not found: %+v", resp.Results)
	}
	if entries, err := tn.audit.Tail(5); err != nil || len(entries) == 0 {
		t.Fatalf("audit after restart: %v %v", entries, err)
	}
	if rep, err := tn.audit.Verify(); err != nil || !rep.OK() {
		t.Fatalf("audit verify after restart: %+v %v", rep, err)
	}
	tn.srv.Close()
	tn.Close()

	found, files := readableIn(t, dir, secretSerial, secretModel)
	if len(found) > 0 {
		t.Fatalf("readable at rest in: %v", found)
	}
	if files < 8 {
		t.Fatalf("only %d files under the data dir: the walk saw too little to mean anything", files)
	}
	var f dataFormat
	b, _ := os.ReadFile(filepath.Join(dir, formatFile))
	if err := json.Unmarshal(b, &f); err != nil || f.Format != sealedDataFormat {
		t.Fatalf("FORMAT.json: %s", b)
	}
}

// A dir created plain (format 1: an earlier release, or storage.plain) keeps working as it is,
// says so in health, and is never turned into an encrypted one behind the operator's back.
func TestPlainDataDirKeepsWorking(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, dir, func(c *config.Config) { c.Storage.Plain = true })
	useTheRecord(t, tn)
	tn.srv.Close()
	tn.Close()
	// The same walk finds the record in a plain dir: the check above can fail.
	found, _ := readableIn(t, dir, secretSerial, secretModel)
	t.Logf("readable in a plain dir: %v", found)
	if len(found) == 0 {
		t.Fatal("the record is not readable in a plain dir: the walk finds nothing")
	}
	tn = startNode(t, dir) // without storage.plain: the dir stays plain
	if h := tn.Health(); !strings.HasPrefix(h.Checks["at_rest"].Detail, "not encrypted") {
		t.Fatalf("at_rest: %+v", h.Checks["at_rest"])
	}
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": secretSerial, "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 {
		t.Fatal("a plain dir's record is not found after a restart")
	}
	if _, err := os.Stat(filepath.Join(dir, seal.KeyFileName)); err == nil {
		t.Fatal("a plain dir got a data key")
	}
}

// A wrong passphrase refuses the start with a clear error and changes nothing; the right one
// opens the dir.
func TestWrongPassphraseRefusesAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pass, []byte("right horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withPass := func(c *config.Config) { c.Storage.PassphraseFile = pass }
	tn := startNode(t, dir, withPass)
	useTheRecord(t, tn)
	if d := tn.Health().Checks["at_rest"].Detail; !strings.Contains(d, "sealed by a passphrase") {
		t.Fatalf("at_rest: %s", d)
	}
	tn.srv.Close()
	tn.Close()
	before := dirDigest(t, dir)

	if err := os.WriteFile(pass, []byte("wrong horse"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr = dir, "127.0.0.1:0"
	withPass(cfg)
	_, err := Open(cfg, Options{})
	if !errors.Is(err, seal.ErrWrongSecret) || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("open with a wrong passphrase: %v", err)
	}
	cfg.Storage.PassphraseFile = ""
	if _, err := Open(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "passphrase_file") {
		t.Fatalf("open without the passphrase: %v", err)
	}
	if dirDigest(t, dir) != before {
		t.Fatal("a refused start changed the data dir")
	}
	if err := os.WriteFile(pass, []byte("right horse battery"), 0o600); err != nil {
		t.Fatal(err)
	}
	tn = startNode(t, dir, withPass)
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": secretSerial, "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 {
		t.Fatal("the record is not found with the right passphrase")
	}
}

// A backup of an encrypted node is encrypted with its data key and carries the key file as sealed
// there: it restores only with that passphrase, into a dir that keeps the key.
func TestBackupOfEncryptedNodeRestoresWithItsPassphrase(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pass, []byte("backup horse"), 0o600); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, t.TempDir(), func(c *config.Config) { c.Storage.PassphraseFile = pass })
	useTheRecord(t, tn)
	bdir := filepath.Join(t.TempDir(), "backup")
	m, err := backupOf(t, tn, "admin", "", bdir)
	if err != nil {
		t.Fatal(err)
	}
	if m.DataFormat != sealedDataFormat {
		t.Fatalf("manifest data format %d", m.DataFormat)
	}
	if found, _ := readableIn(t, bdir, secretSerial, secretModel); len(found) > 0 {
		t.Fatalf("readable in the backup: %v", found)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := RestoreBackup(bdir, restored, RestoreOptions{Now: time.Now}); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("restore without the passphrase: %v", err)
	}
	res, err := RestoreBackup(bdir, restored, RestoreOptions{Now: time.Now, Storage: config.Storage{PassphraseFile: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Audit.OK() || res.Audit.Entries == 0 {
		t.Fatalf("restored audit: %+v", res.Audit)
	}
	rn := startNode(t, restored, func(c *config.Config) { c.Storage.PassphraseFile = pass })
	var resp wire.SearchResponse
	rn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": secretSerial, "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 {
		t.Fatal("the restored node does not find the record")
	}
}

// fedarms storage encrypt: a plain dir, converted on a stopped node, holds nothing readable, keeps
// every record, hit and audit entry, and leaves no plain copy behind.
func TestEncryptPlainDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tn := startNode(t, dir, func(c *config.Config) { c.Storage.Plain = true })
	useTheRecord(t, tn)
	hitsBefore, err := tn.hits.List(func(*notify.Hit) bool { return true })
	if err != nil || len(hitsBefore) == 0 {
		t.Fatalf("hits: %v %v", hitsBefore, err)
	}
	tn.srv.Close()
	tn.Close()

	if err := EncryptDataDir(dir, nil, testLogger(t, "encrypt"), time.Now); err != nil {
		t.Fatal(err)
	}
	if found, _ := readableIn(t, filepath.Dir(dir), secretSerial, secretModel); len(found) > 0 {
		t.Fatalf("readable after encrypt: %v", found)
	}
	if err := EncryptDataDir(dir, nil, testLogger(t, "encrypt"), time.Now); err == nil || !strings.Contains(err.Error(), "not a plain dir") {
		t.Fatalf("encrypting twice: %v", err)
	}
	tn = startNode(t, dir)
	if d := tn.Health().Checks["at_rest"].Detail; !strings.HasPrefix(d, "encrypted") {
		t.Fatalf("at_rest: %s", d)
	}
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": secretSerial, "on_behalf_of": "KE-CUSTOMS"}).decode(t, &resp)
	if len(resp.Results) == 0 {
		t.Fatal("the record is not found after encrypt")
	}
	hitsAfter, err := tn.hits.List(func(*notify.Hit) bool { return true })
	if err != nil || len(hitsAfter) != len(hitsBefore)+1 { // the search above made one more
		t.Fatalf("hits after encrypt: %d, before %d (%v)", len(hitsAfter), len(hitsBefore), err)
	}
	if rep, err := tn.audit.Verify(); err != nil || !rep.OK() {
		t.Fatalf("audit after encrypt: %+v %v", rep, err)
	}
	if copies, _ := filepath.Glob(dir + ".format-1-*"); len(copies) > 0 {
		t.Fatalf("plain copies left: %v", copies)
	}
}
