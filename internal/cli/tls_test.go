package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/tlsca"
	"github.com/fedarms/fedarms/node"
)

// TestTLSClientAndCertCommands: `federation init` makes the CA beside the root key, `federation
// cert` issues a node's certificate, the agent serves HTTPS with it, and a client reaches it with
// --ca (or FEDARMS_CA) and an https:// address; without the CA, or with http://, the error says what
// to change.
func TestTLSClientAndCertCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), args, nil, &out, &out)
		return code, out.String()
	}
	gs := filepath.Join(dir, "gs")
	if code, out := run("federation", "init", "--out", gs); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}
	certDir := filepath.Join(dir, "node-tls")
	if code, out := run("federation", "cert", "--ca-dir", gs, "--name", "edge-test", "--host", "127.0.0.1", "--host", "localhost", "--out", certDir); code != 0 {
		t.Fatalf("cert: %d %s", code, out)
	}
	c := config.Default()
	c.DataDir = filepath.Join(dir, "data")
	c.HTTPAddr = "127.0.0.1:0"
	c.TLS = config.TLS{CertFile: filepath.Join(certDir, tlsca.CertFile), KeyFile: filepath.Join(certDir, tlsca.KeyFile)}
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
	tf, err := ensureAdminToken(n, c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(gs, tlsca.CACertFile)
	base := n.URL()
	if code, out := run("ref", "makes", "glock", "--addr", base, "--token-file", tf, "--ca", ca); code != 0 || !strings.Contains(strings.ToLower(out), "glock") {
		t.Fatalf("with --ca: %d %s", code, out)
	}
	t.Setenv(caEnv, ca)
	if code, out := run("search", "--serial", "ABC123", "--addr", base, "--token-file", tf); code != 0 {
		t.Fatalf("with %s: %d %s", caEnv, code, out)
	}
	os.Unsetenv(caEnv)
	if code, out := run("search", "--serial", "ABC123", "--addr", base, "--token-file", tf); code == 0 || !strings.Contains(out, "--ca") {
		t.Errorf("without the CA: %d %s", code, out)
	}
	plain := "http://" + strings.TrimPrefix(base, "https://")
	if code, out := run("search", "--serial", "ABC123", "--addr", plain, "--token-file", tf, "--ca", ca); code == 0 || !strings.Contains(out, "https://") {
		t.Errorf("http:// to a TLS node: %d %s", code, out)
	}
}
