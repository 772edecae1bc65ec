package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary as a separate process, as an operator would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func fedarmsBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the fedarms binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fedarms-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fedarms")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/fedarms").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running fedarms dev process.
type proc struct {
	cmd    *exec.Cmd
	base   string
	token  string
	mu     sync.Mutex // guards output
	output bytes.Buffer
	exited chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDev starts `fedarms dev` and waits for its ready line.
func startDev(t *testing.T, dataDir, addr string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"dev", "--data", dataDir, "--http", addr}, extra...)
	p := &proc{cmd: exec.Command(fedarmsBinary(t), args...), base: "http://" + addr, exited: make(chan error, 1)}
	stdout, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = &lockedWriter{p: p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.output.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "fedarms ready") {
				ready <- true
			}
		}
	}()
	go func() { p.exited <- p.cmd.Wait() }()
	select {
	case <-ready:
	case err := <-p.exited:
		t.Fatalf("fedarms dev exited before ready: %v\n%s", err, p.log())
	case <-time.After(90 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("fedarms dev not ready within 90s\n%s", p.log())
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dataDir, "admin.token")); st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v, want 0600", st.Mode().Perm())
	}
	p.token = strings.TrimSpace(string(tok))
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("fedarms output:\n%s", p.log())
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.output.Write(b)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

func (p *proc) request(method, path, ctype string, body io.Reader) (int, []byte, error) {
	req, _ := http.NewRequest(method, p.base+path, body)
	req.Header.Set("Authorization", "Bearer "+p.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func batchBody(batch, n int) string {
	var b strings.Builder
	for j := 0; j < n; j++ {
		fmt.Fprintf(&b, `{"id":"FR-C%03d-%05d","serial":"CR%03d%05d","make":"Beretta","calibre":"9x19","type":"pistol","recording_country":"FR","status":"stolen"}`+"\n", batch, j, batch, j)
	}
	return b.String()
}

func TestDevStartsHealthyAndRestartsOnSameData(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	p := startDev(t, dir, addr, "--sample", "2000")
	resp, err := http.Get(p.base + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Status  string
		Records int
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Status != "ok" || h.Records != 2000 {
		t.Fatalf("health %+v", h)
	}
	if !strings.Contains(p.log(), "/console/") || !strings.Contains(p.log(), "admin.token") {
		t.Fatalf("dev output lacks console URL or token file:\n%s", p.log())
	}
	// SIGTERM shuts down cleanly; a restart serves the same data without reloading the sample.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
	p2 := startDev(t, dir, addr, "--sample", "2000")
	if strings.Contains(p2.log(), "sample records") {
		t.Fatalf("sample loaded twice:\n%s", p2.log())
	}
	code, body, err := p2.request("GET", "/v1/shards", "", nil)
	if err != nil || code != 200 {
		t.Fatalf("shards: %d %v", code, err)
	}
	var sh struct{ Shards []struct{ Records int } }
	json.Unmarshal(body, &sh)
	total := 0
	for _, s := range sh.Shards {
		total += s.Records
	}
	if total != 2000 {
		t.Fatalf("after restart %d records, want 2000", total)
	}
}

func TestKillDuringImportLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	p := startDev(t, dir, addr, "--sample", "0")
	const per = 2000
	var mu sync.Mutex // guards acked
	var acked []int   // batches whose import answer arrived
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := 0; ; b++ {
			code, body, err := p.request("POST", "/v1/import", "application/x-ndjson", strings.NewReader(batchBody(b, per)))
			if err != nil {
				return // the process was killed
			}
			var r struct{ Accepted int }
			json.Unmarshal(body, &r)
			if code != 200 || r.Accepted != per {
				t.Errorf("batch %d: %d %s", b, code, body)
				return
			}
			mu.Lock()
			acked = append(acked, b)
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Kill while imports are streaming (the next batch is on its way), once a few were acknowledged.
	for {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("imports did not progress")
		}
	}
	p.cmd.Process.Kill()
	<-p.exited
	<-done
	p2 := startDev(t, dir, addr, "--sample", "0")
	for _, b := range acked {
		for j := 0; j < per; j += 97 {
			id := fmt.Sprintf("FR-C%03d-%05d", b, j)
			code, body, err := p2.request("GET", "/v1/records/"+id, "", nil)
			if err != nil || code != 200 {
				t.Fatalf("acknowledged record %s lost after SIGKILL: %d %s %v", id, code, body, err)
			}
		}
	}
	_, body, _ := p2.request("GET", "/v1/shards", "", nil)
	var sh struct {
		Shards []struct {
			Shard   string
			Records int
		}
	}
	json.Unmarshal(body, &sh)
	for _, s := range sh.Shards {
		if s.Shard == "europe" && s.Records < len(acked)*per {
			t.Fatalf("europe holds %d records, %d were acknowledged", s.Records, len(acked)*per)
		}
	}
	t.Logf("%d batches (%d records) acknowledged before SIGKILL; all present after restart", len(acked), len(acked)*per)
}
