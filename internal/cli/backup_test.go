package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func runCode(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// fedarms backup of a running dev node, restore into a new data dir, dev started on it.
func TestBackupAndRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	p := startDev(t, dir, addr, "--sample", "2000")
	out := filepath.Join(t.TempDir(), "backup")
	tok := filepath.Join(dir, "admin.token")
	code, stdout, stderr := runCode(t, "backup", "--addr", p.base, "--token-file", tok, "--out", out)
	if code != 0 || !strings.Contains(stdout, "europe") {
		t.Fatalf("backup: %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCode(t, "backup", "--addr", p.base, "--token-file", tok, "--out", out); code == 0 || !strings.Contains(stderr, "exists") {
		t.Fatalf("a backup into an existing dir: %d %s", code, stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}

	// A damaged copy is refused, naming the file.
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.CopyFS(damaged, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, "node.db"), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCode(t, "restore", "--from", damaged, "--data", filepath.Join(t.TempDir(), "x")); code != 1 || !strings.Contains(stderr, "node.db") {
		t.Fatalf("restore of a damaged backup: %d %s", code, stderr)
	}

	// A rebuild needs the operator's word that the quorum is lost, and a central node's backup.
	if code, _, stderr := runCode(t, "restore", "--from", out, "--data", filepath.Join(t.TempDir(), "x"), "--recover"); code != 2 || !strings.Contains(stderr, "--quorum-lost") {
		t.Fatalf("restore --recover without --quorum-lost: %d %s", code, stderr)
	}
	if code, _, stderr := runCode(t, "restore", "--from", out, "--data", filepath.Join(t.TempDir(), "x"), "--recover", "--quorum-lost"); code != 1 || !strings.Contains(stderr, "central node") {
		t.Fatalf("restore --recover of a one-node backup: %d %s", code, stderr)
	}

	data := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr = runCode(t, "restore", "--from", out, "--data", data)
	if code != 0 || !strings.Contains(stdout, "chain intact: true") {
		t.Fatalf("restore: %d\n%s%s", code, stdout, stderr)
	}
	p2 := startDev(t, data, addr, "--sample", "2000")
	if strings.Contains(p2.log(), "sample records") {
		t.Fatalf("the sample was loaded again on the restored dir:\n%s", p2.log())
	}
	code, stdout, stderr = runCode(t, "restore", "--report", "--from", out, "--survivor", "dev="+p2.base, "--token-file", filepath.Join(data, "admin.token"), "--json")
	if code != 0 {
		t.Fatalf("report: %d %s", code, stderr)
	}
	var rep struct {
		Shards []struct{ Shard, Status string }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Shards) == 0 {
		t.Fatalf("report %s: %v", stdout, err)
	}
	for _, s := range rep.Shards {
		if s.Status != "same" {
			t.Fatalf("report on the restored node itself: %+v", rep.Shards)
		}
	}
}
