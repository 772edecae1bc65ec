package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/wire"
)

// serveNode runs a node in-process and returns its base URL and an admin token file.
func serveNode(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	c := config.Default()
	c.DataDir = dir
	c.HTTPAddr = "127.0.0.1:0"
	n, err := node.Open(c, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	go n.Serve()
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	tf, err := ensureAdminToken(n, dir)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + n.Addr(), tf
}

func TestImportSearchRecordsRoundTrip(t *testing.T) {
	base, tf := serveNode(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "recs.jsonl")
	lines := `{"id":"FR-1","serial":"BXK123","make":"Glock","model":"17","calibre":"9x19","type":"pistol","recording_country":"FR","status":"stolen"}
{"id":"FR-2","serial":"BXK124","make":"Glock","calibre":"9x19","type":"pistol","recording_country":"FR"}
{"id":"KE-1","serial":"AK 4711","make":"Izhmash","calibre":"7.62x39","type":"rifle","recording_country":"KE","status":"smuggled"}
`
	os.WriteFile(file, []byte(lines), 0o600)
	flags := []string{"--addr", base, "--token-file", tf}
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), append(args, flags...), nil, &out, &out)
		return code, out.String()
	}
	code, out := run("import", file)
	if code != exitRejected || !strings.Contains(out, "accepted: 2") || !strings.Contains(out, "line 2 (FR-2): status: is required") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	code, out = run("search", "--serial", "bxk-123", "--make", "glock")
	if code != 0 || !strings.Contains(out, "FR-1") || !strings.Contains(out, "coverage complete") {
		t.Fatalf("search: exit %d\n%s", code, out)
	}
	code, out = run("search", "--serial", "AK4711", "--json")
	var resp wire.SearchResponse
	if code != 0 || json.Unmarshal([]byte(out), &resp) != nil || len(resp.Results) == 0 || resp.Results[0].ID != "KE-1" {
		t.Fatalf("search --json: exit %d\n%s", code, out)
	}
	if code, out = run("records", "get", "KE-1"); code != 0 || !strings.Contains(out, `"smuggled"`) {
		t.Fatalf("records get: exit %d\n%s", code, out)
	}
	if code, out = run("records", "delete", "KE-1"); code != 0 {
		t.Fatalf("records delete: exit %d\n%s", code, out)
	}
	if code, out = run("records", "get", "KE-1"); code != exitFailure || !strings.Contains(out, "404") {
		t.Fatalf("records get after delete: exit %d\n%s", code, out)
	}
	code, out = run("tokens", "create", "--agency", "FR-NCB", "--country", "FR", "--roles", "recorder,searcher")
	if code != 0 || !strings.HasPrefix(out, "fa_") {
		t.Fatalf("tokens create: exit %d\n%s", code, out)
	}
	if code, out = run("tokens", "list"); code != 0 || !strings.Contains(out, "FR-NCB") {
		t.Fatalf("tokens list: exit %d\n%s", code, out)
	}
	if code, out = run("hits"); code != 0 || !strings.Contains(out, "FR-1") || !strings.Contains(out, "ok/ok/ok") {
		t.Fatalf("hits: exit %d\n%s", code, out)
	}
	hitID := strings.Fields(strings.Split(out, "\n")[1])[0]
	if code, out = run("hits", "decide", hitID, "confirmed", "--comment", "seized at CDG"); code != 0 || !strings.Contains(out, "confirmed") {
		t.Fatalf("hits decide: exit %d\n%s", code, out)
	}
	if code, out = run("traces", "create", "--record", "FR-1", "--last-import", "DE"); code != 0 || !strings.Contains(out, "ncb:DE") {
		t.Fatalf("traces create: exit %d\n%s", code, out)
	}
	if code, out = run("traces"); code != 0 || !strings.Contains(out, "Glock") {
		t.Fatalf("traces: exit %d\n%s", code, out)
	}
	if code, out = run("ref", "makes", "S&W"); code != 0 || !strings.Contains(out, "Smith") {
		t.Fatalf("ref makes: exit %d\n%s", code, out)
	}
	if code, out = run("ref", "calibres", "9mm Parabellum"); code != 0 || !strings.Contains(out, "9") {
		t.Fatalf("ref calibres: exit %d\n%s", code, out)
	}
	if code, out = run("audit", "tail", "-n", "30"); code != 0 || !strings.Contains(out, "search") {
		t.Fatalf("audit tail: exit %d\n%s", code, out)
	}
	if code, out = run("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
}
