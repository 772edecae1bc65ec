package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/tlsca"
)

// client talks to the nodes; every call is short so a hung node cannot stall a command.
var client = &http.Client{Timeout: 3 * time.Second}

// caFile is the federation's CA (DIR/ca.pem) when its nodes serve HTTPS, "" otherwise.
var caFile string

// trustCA makes client trust the CA in dir, when there is one.
func trustCA(dir string) error {
	path := filepath.Join(dir, tlsca.CACertFile)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	pool, err := tlsca.Pool(path)
	if err != nil {
		return err
	}
	caFile = path
	client = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	return nil
}

// shardStatus is the part of GET /v1/shards the tool reads.
type shardStatus struct {
	Shard        string `json:"shard"`
	Role         string `json:"role"`
	Leader       string `json:"leader"`
	Source       string `json:"source"`
	AppliedIndex uint64 `json:"applied_index"`
	Records      uint64 `json:"records"`
	Digest       string `json:"digest"`
	Stale        bool   `json:"stale"`
}

// health is the part of GET /v1/health the tool reads.
type health struct {
	Status string `json:"status"`
}

func token(m member) (string, error) {
	b, err := os.ReadFile(m.tokenFile())
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// call does one API call with the member's admin token and decodes a 2xx JSON answer into out.
func call(m member, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.API+path, rd)
	if err != nil {
		return err
	}
	if path != "/v1/health" {
		tok, err := token(m)
		if err != nil {
			return fmt.Errorf("admin token of %s: %w", m.Name, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func shards(m member) ([]shardStatus, error) {
	var out struct {
		Shards []shardStatus `json:"shards"`
	}
	err := call(m, "GET", "/v1/shards", nil, &out)
	return out.Shards, err
}

// notReady says why a member is not ready yet, or "" when it is: its API answers, its admin token
// is written (the agent writes it once every held shard has a leader) and every shard it holds
// reports a leader. A non-voter learns its leader only from the leader's appends, so for ncb and
// edge nodes this also means the leader has added them to the group. A shard held as a fed holder
// (role fed) has no leader of its own: it is ready once a source answers and the copy is fresh.
func notReady(m member) string {
	var h health
	if err := call(m, "GET", "/v1/health", nil, &h); err != nil {
		return "API not answering: " + err.Error()
	}
	if _, err := token(m); err != nil {
		return "admin token not written yet"
	}
	ss, err := shards(m)
	if err != nil {
		return err.Error()
	}
	if len(ss) == 0 {
		return "holds no shard"
	}
	var missing []string
	var unfed []string
	for _, s := range ss {
		switch {
		case s.Role == "fed" && (s.Source == "" || s.Stale):
			unfed = append(unfed, s.Shard)
		case s.Role != "fed" && s.Leader == "":
			missing = append(missing, s.Shard)
		}
	}
	if len(missing) > 0 {
		return "no leader yet for " + strings.Join(missing, ", ")
	}
	if len(unfed) > 0 {
		return "no fresh source yet for " + strings.Join(unfed, ", ")
	}
	return ""
}

// waitReady polls the members until each is ready, failing early when an agent has died, and
// failing after timeout with each laggard's reason and the end of its log.
func waitReady(ms []member, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pending := append([]member(nil), ms...)
	for {
		var still []member
		var reasons []string
		for _, m := range pending {
			if _, ok := running(m); !ok {
				return fmt.Errorf("%s exited while starting; end of %s:\n%s", m.Name, m.logFile(), tail(m.logFile(), 20))
			}
			if why := notReady(m); why != "" {
				still = append(still, m)
				reasons = append(reasons, m.Name+": "+why)
			}
		}
		if len(still) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "not ready after %v:\n  %s", timeout, strings.Join(reasons, "\n  "))
			for _, m := range still {
				fmt.Fprintf(&b, "\n---- end of %s ----\n%s", m.logFile(), tail(m.logFile(), 15))
			}
			return fmt.Errorf("%s", b.String())
		}
		pending = still
		time.Sleep(200 * time.Millisecond)
	}
}
