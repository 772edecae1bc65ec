//go:build localfed

package drills

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fed is one federation started by scripts/localfed for one drill.
type fed struct {
	t      *testing.T
	dir    string
	script string
	nodes  map[string]*nodeClient
	order  []string // names in federation.json order
	// maxStaleness is what every node was configured with.
	maxStaleness time.Duration
	// env is added to the environment of every script command (LOCALFED_BIN for mixed releases).
	env []string
}

// fedJSON is DIR/federation.json as the contract gives it (plus the script's additions).
type fedJSON struct {
	// CAFile is the CA of the nodes' HTTPS certificates.
	CAFile string `json:"ca_file"`
	Nodes  []struct {
		Name      string   `json:"name"`
		Role      string   `json:"role"`
		Country   string   `json:"country"`
		API       string   `json:"api"`
		TokenFile string   `json:"token_file"`
		Log       string   `json:"log"`
		Shards    []string `json:"shards"`
	} `json:"nodes"`
	ReadySeconds float64 `json:"ready_seconds"`
	MaxStaleness string  `json:"max_staleness"`
}

// startFed runs `localfed up` in a fresh directory, checks the federation.json it writes and
// registers `localfed down` (and, on failure, a dump of every node's status and log) for cleanup.
// LOCALFED_KEEP=1 keeps the directory.
func startFed(t *testing.T, drill string) *fed {
	t.Helper()
	return startFedEnv(t, drill)
}

// startFedEnv is startFed with env added to the environment of every script command.
func startFedEnv(t *testing.T, drill string, env ...string) *fed {
	t.Helper()
	script, err := filepath.Abs("../localfed")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "localfed-"+drill+"-")
	if err != nil {
		t.Fatal(err)
	}
	f := &fed{t: t, dir: dir, script: script, nodes: map[string]*nodeClient{}, env: env}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, "roster.json")); err == nil {
			if t.Failed() {
				f.dumpStatus()
			}
			if out, err := f.localfedOut("down"); err != nil {
				t.Errorf("localfed down: %v\n%s", err, out)
			}
		}
		if os.Getenv("LOCALFED_KEEP") == "1" {
			t.Logf("federation dir kept: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	t0 := time.Now()
	out, err := f.localfedOut("up")
	upWall := time.Since(t0)
	t.Logf("localfed up:\n%s", out)
	if err != nil {
		t.Fatalf("localfed up: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "federation.json"))
	if err != nil {
		t.Fatalf("federation.json: %v", err)
	}
	var fj fedJSON
	if err := json.Unmarshal(b, &fj); err != nil {
		t.Fatalf("federation.json: %v", err)
	}
	hc, err := clientFor(fj.CAFile)
	if err != nil {
		t.Fatalf("federation.json ca_file: %v", err)
	}
	for _, n := range fj.Nodes {
		tok, err := os.ReadFile(n.TokenFile)
		if err != nil {
			t.Fatalf("token of %s: %v", n.Name, err)
		}
		if fj.CAFile != "" && !strings.HasPrefix(n.API, "https://") {
			t.Errorf("%s: api %s with a ca_file, want https://", n.Name, n.API)
		}
		f.nodes[n.Name] = &nodeClient{name: n.Name, role: n.Role, country: n.Country, api: n.API, shards: n.Shards,
			log: n.Log, admin: strings.TrimSpace(string(tok)), hc: hc}
		f.order = append(f.order, n.Name)
	}
	// A federation laid out by an earlier release's script (LOCALFED_BIN: the upgrade drills) has
	// that release's seven nodes; this release's has ncb-fr-2 as well.
	earlier := slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "LOCALFED_BIN=") })
	switch {
	case earlier && len(f.nodes) < 7:
		t.Fatalf("federation.json lists %d nodes (%v), want at least 7", len(f.nodes), f.order)
	case !earlier && (len(f.nodes) < 8 || f.nodes["ncb-fr-2"] == nil):
		t.Fatalf("federation.json lists %d nodes (%v), want at least 8 with ncb-fr-2", len(f.nodes), f.order)
	}
	f.maxStaleness, _ = time.ParseDuration(fj.MaxStaleness)
	measure(t, drill, "up_ready", fj.ReadySeconds, "s")
	measure(t, drill, "up_wall", upWall.Seconds(), "s") // the script's whole run, with its build unless LOCALFED_BIN
	if fj.ReadySeconds >= 60 {
		t.Errorf("localfed up took %.1fs to be ready, want under 60s", fj.ReadySeconds)
	}
	return f
}

// localfed runs one script command and fails the test when it fails.
func (f *fed) localfed(args ...string) string {
	f.t.Helper()
	out, err := f.localfedOut(args...)
	if err != nil {
		f.t.Fatalf("localfed %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (f *fed) localfedOut(args ...string) (string, error) {
	full := append([]string{args[0], f.dir}, args[1:]...)
	cmd := exec.Command(f.script, full...)
	cmd.Env = append(os.Environ(), f.env...)
	if args[0] != "up" {
		cmd.Env = append(cmd.Env, "LOCALFED_NO_BUILD=1")
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fedarms is the binary the script runs (LOCALFED_BIN, or the one it built into DIR/bin).
func (f *fed) fedarms() string {
	if d := os.Getenv("LOCALFED_BIN"); d != "" {
		abs, err := filepath.Abs(filepath.Join(d, "fedarms"))
		if err == nil {
			return abs
		}
	}
	return filepath.Join(f.dir, "bin", "fedarms")
}

func (f *fed) node(name string) *nodeClient {
	n, ok := f.nodes[name]
	if !ok {
		f.t.Fatalf("no node %s", name)
	}
	return n
}

// holders lists the nodes that hold a shard, in federation order.
func (f *fed) holders(shard string) []*nodeClient {
	var out []*nodeClient
	for _, name := range f.order {
		if n := f.nodes[name]; n.holds(shard) {
			out = append(out, n)
		}
	}
	return out
}

// centrals lists the central nodes.
func (f *fed) centrals() []*nodeClient {
	var out []*nodeClient
	for _, name := range f.order {
		if n := f.nodes[name]; n.role == "central" {
			out = append(out, n)
		}
	}
	return out
}

// dumpStatus logs the script's status table and the end of each node's log, for a failed drill.
func (f *fed) dumpStatus() {
	out, _ := f.localfedOut("status")
	f.t.Logf("---- localfed status ----\n%s", out)
	for _, name := range f.order {
		f.t.Logf("---- end of the log of %s ----\n%s", name, tailFile(f.nodes[name].log, 40))
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// nodeClient calls one node's HTTP API.
type nodeClient struct {
	name, role, country, api, log string
	shards                        []string
	admin                         string // the admin token
	hc                            *http.Client
}

// clientFor is an HTTP client for a federation's nodes, trusting its CA when it names one.
func clientFor(caFile string) (*http.Client, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if caFile == "" {
		return hc, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16}
	return hc, nil
}

func (n *nodeClient) holds(shard string) bool {
	for _, s := range n.shards {
		if s == "*" || s == shard {
			return true
		}
	}
	return false
}

// do makes one call; body is JSON unless ctype says otherwise. It returns the status and body.
func (n *nodeClient) do(method, path, token string, body []byte, ctype string) (int, []byte, error) {
	req, err := http.NewRequest(method, n.api+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype == "" {
		ctype = "application/json"
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := n.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// json makes a call with a JSON body and decodes a 2xx answer into out.
func (n *nodeClient) json(method, path, token string, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, err
		}
	}
	code, b, err := n.do(method, path, token, body, "")
	if err != nil {
		return code, err
	}
	if code/100 != 2 {
		return code, fmt.Errorf("%s %s at %s: %d %s", method, path, n.name, code, strings.TrimSpace(string(b)))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return code, fmt.Errorf("%s %s at %s: %w", method, path, n.name, err)
		}
	}
	return code, nil
}

// mint creates a token on this node (tokens are per node) and returns its secret.
func (n *nodeClient) mint(t *testing.T, agency, country string, roles ...string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if _, err := n.json("POST", "/v1/tokens", n.admin, map[string]any{"agency": agency, "country": country, "roles": roles}, &out); err != nil {
		t.Fatalf("mint a token: %v", err)
	}
	return out.Token
}

// shardStatus is one entry of GET /v1/shards.
type shardStatus struct {
	Shard        string    `json:"shard"`
	Role         string    `json:"role"`
	Leader       string    `json:"leader"`
	AppliedIndex uint64    `json:"applied_index"`
	Records      uint64    `json:"records"`
	Digest       string    `json:"digest"`
	LastContact  time.Time `json:"last_contact"`
	Stale        bool      `json:"stale"`
}

// shardsOf returns the node's shards by name; an error when it does not answer.
func (n *nodeClient) shardsOf() (map[string]shardStatus, error) {
	c := *n.hc
	c.Timeout = 3 * time.Second
	var out struct {
		Shards []shardStatus `json:"shards"`
	}
	req, _ := http.NewRequest("GET", n.api+"/v1/shards", nil)
	req.Header.Set("Authorization", "Bearer "+n.admin)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /v1/shards at %s: %s", n.name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	m := map[string]shardStatus{}
	for _, s := range out.Shards {
		m[s.Shard] = s
	}
	return m, nil
}

var resultsMu sync.Mutex

// measure logs one number as a MEASURE line (scripts/bench-federation.sh collects them) and appends
// it to the file named by LOCALFED_RESULTS, when set.
func measure(t *testing.T, drill, name string, value float64, unit string) {
	t.Helper()
	line := fmt.Sprintf("MEASURE drill=%s %s=%.3f %s", drill, name, value, unit)
	t.Log(line)
	if path := os.Getenv("LOCALFED_RESULTS"); path != "" {
		resultsMu.Lock()
		defer resultsMu.Unlock()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("results file: %v", err)
			return
		}
		fmt.Fprintln(f, line)
		f.Close()
	}
}
