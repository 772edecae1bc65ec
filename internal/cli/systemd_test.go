package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
)

// TestNodeNotifiesSystemd runs a node as systemd would start it with Type=notify and WatchdogSec=:
// READY=1 once it serves, WATCHDOG=1 pings while it runs, STOPPING=1 when told to stop.
func TestNodeNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"dev", "--data", filepath.Join(dir, "data"), "--http", "127.0.0.1:0", "--sample", "0", "--log-level", "warn"}, nil, &out, &errb)
	}()
	next := func(timeout time.Duration) string {
		buf := make([]byte, 512)
		conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v (node stderr: %s)", err, errb.String())
		}
		return string(buf[:n])
	}
	if got := next(2 * time.Minute); !strings.HasPrefix(got, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	if !strings.Contains(out.String(), "fedarms ready") {
		t.Fatalf("READY=1 before the ready line: %q", out.String())
	}
	for range 2 {
		if got := next(10 * time.Second); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	cancel()
	for {
		if got := next(30 * time.Second); got == "STOPPING=1" {
			break
		}
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestCredentialsDirectoryKeyWins(t *testing.T) {
	creds := t.TempDir()
	c := config.Default()
	c.Federation = &config.Federation{KeyFile: "keys/node.key"}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	useCredentials(c, "/etc/fedarms")
	if c.Federation.KeyFile != "/etc/fedarms/keys/node.key" {
		t.Fatalf("without a node.key credential: key_file %q, want it relative to the config", c.Federation.KeyFile)
	}
	if err := writeFile0600(filepath.Join(creds, "node.key")); err != nil {
		t.Fatal(err)
	}
	useCredentials(c, "/etc/fedarms")
	if want := filepath.Join(creds, "node.key"); c.Federation.KeyFile != want {
		t.Fatalf("key_file %q, want the credential %q", c.Federation.KeyFile, want)
	}
}

func writeFile0600(path string) error { return os.WriteFile(path, []byte("k"), 0o600) }
