package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// syncBuffer is a bytes.Buffer safe to write from a running command and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs one fedarms command to its end and fails the test on a non-zero exit.
func run(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, nil, &out, &errb); code != 0 {
		t.Fatalf("fedarms %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

// startAgent runs `fedarms agent --config FILE` in this process until the test ends.
func startAgent(t *testing.T, cfg string) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, []string{"agent", "--config", cfg}, nil, logs, logs)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("log of %s:\n%s", cfg, logs.String())
		}
	})
	return logs
}

func healthOf(base string) (wire.Health, bool) {
	var h wire.Health
	resp, err := http.Get(base + "/v1/health")
	if err != nil {
		return h, false
	}
	defer resp.Body.Close()
	return h, json.NewDecoder(resp.Body).Decode(&h) == nil
}

// TestSiteStandUp brings a new airport edge into a running federation as the runbook says: site
// init on the edge, federation sign and admit at the General Secretariat, site join on the edge,
// then the agent, until the edge reports europe's leader (it has joined the shard group).
func TestSiteStandUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-node federation; skipped with -short")
	}
	gs := t.TempDir()
	httpPort, p2pPort := freeTCPPort(t), freeTCPPort(t)
	l, err := fedplan.WriteFederation(gs, []fedplan.MemberSpec{{Name: "lyon-1", Role: "central", Shards: []string{"*"},
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPort), P2PAddrs: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p2pPort)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, l.Files[0])
	central := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	testutil.WaitFor(t, 2*time.Minute, "lyon-1 serving", func() bool {
		h, ok := healthOf(central)
		return ok && h.Status == "ok"
	})

	site := filepath.Join(t.TempDir(), "etc")
	edgeHTTP, edgeP2P := freeTCPPort(t), freeTCPPort(t)
	edgeMA := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", edgeP2P)
	t0 := time.Now()
	initArgs := []string{"site", "init", "--role", "edge", "--country", "fr", "--name", "edge-cdg-2", "--dir", site,
		"--data", filepath.Join(site, "..", "data"), "--http", fmt.Sprintf("127.0.0.1:%d", edgeHTTP),
		"--listen", edgeMA, "--addr", edgeMA}
	reqJSON := run(t, initArgs...)
	var req siteRequestDoc
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		t.Fatalf("site init printed %q: %v", reqJSON, err)
	}
	if req.Country != "FR" || len(req.Shards) != 1 || req.Shards[0] != "europe" || req.PeerID == "" {
		t.Fatalf("request %+v: want FR, the europe shard and a peer id", req)
	}
	if again := run(t, initArgs...); !strings.Contains(again, req.PeerID) {
		t.Fatalf("a second site init changed the identity: %s", again)
	}
	st, err := os.Stat(filepath.Join(site, "..", "data"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, mode %v; want 0700", err, st.Mode().Perm())
	}

	// At the General Secretariat: sign the request and admit the entry at a central node.
	entry := run(t, "federation", "sign", "--root-key", filepath.Join(gs, "root.key"), "--peer-id", req.PeerID,
		"--name", req.Name, "--role", req.Role, "--country", req.Country, "--shards", strings.Join(req.Shards, ","), "--addr", edgeMA)
	entryFile := filepath.Join(t.TempDir(), "edge-cdg-2.entry.json")
	os.WriteFile(entryFile, []byte(entry), 0o644)
	run(t, "federation", "admit", entryFile, "--addr", central, "--token-file", filepath.Join(gs, "lyon-1", "admin.token"))

	// Back at the site: an entry for another node is refused, the right one is put in place.
	other, err := transport.LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	wrong := run(t, "federation", "sign", "--root-key", filepath.Join(gs, "root.key"), "--peer-id", other.ID.String(),
		"--name", "edge-cdg-2", "--role", "edge", "--country", "FR", "--shards", "europe")
	wrongFile := filepath.Join(t.TempDir(), "wrong.json")
	os.WriteFile(wrongFile, []byte(wrong), 0o644)
	if code := Run(context.Background(), []string{"site", "join", wrongFile, "--roster", filepath.Join(gs, "roster.json"), "--dir", site, "--root-pub", l.RootPub}, nil, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "another machine") {
		t.Fatalf("site join of an entry for another peer id: exit %d, %s", code, errb.String())
	}
	run(t, "site", "join", entryFile, "--roster", filepath.Join(gs, "roster.json"), "--dir", site, "--root-pub", l.RootPub)
	run(t, "agent", "--check", "--config", filepath.Join(site, "fedarms.toml"))

	startAgent(t, filepath.Join(site, "fedarms.toml"))
	edge := fmt.Sprintf("http://127.0.0.1:%d", edgeHTTP)
	testutil.WaitFor(t, 3*time.Minute, "edge-cdg-2 joined europe (a leader known, copy fresh)", func() bool {
		h, ok := healthOf(edge)
		return ok && h.Checks["shard:europe"].Status == "ok"
	})
	t.Logf("MEASURE site stand-up (init, sign, admit, join, start, europe joined): %v", time.Since(t0).Round(time.Millisecond))
}
