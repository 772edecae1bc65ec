package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/internal/tlsca"
	"github.com/fedarms/fedarms/node/wire"
)

// listenNode opens a node on 127.0.0.1:0 and serves its API as the agent does (Listen, Serve).
func listenNode(t *testing.T, c clock.Clock, mutate func(*config.Config)) *Node {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	mutate(cfg)
	n, err := Open(cfg, Options{Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	go n.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	return n
}

// TestTLSServesHTTP2AndReloadsItsCertificate: the API serves TLS 1.3 and HTTP/2 with the
// certificate the federation's CA issued, says how long it has left in health, and serves a renewed
// certificate without a restart (before, the API spoke plain HTTP only).
func TestTLSServesHTTP2AndReloadsItsCertificate(t *testing.T) {
	dir := t.TempDir()
	fake := clock.NewFake(time.Now())
	ca, err := tlsca.Create(dir, "test CA", fake.Now())
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "node")
	first, err := ca.Issue(certDir, "edge-test", []string{"127.0.0.1", "localhost"}, 30*24*time.Hour, fake.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := listenNode(t, fake, func(c *config.Config) {
		c.TLS = config.TLS{CertFile: filepath.Join(certDir, tlsca.CertFile), KeyFile: filepath.Join(certDir, tlsca.KeyFile)}
	})
	if !strings.HasPrefix(n.URL(), "https://") {
		t.Fatalf("URL %s", n.URL())
	}
	pool, err := tlsca.Pool(filepath.Join(dir, tlsca.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	get := func() (*http.Response, wire.Health) {
		t.Helper()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
		defer hc.CloseIdleConnections()
		resp, err := hc.Get(n.URL() + "/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h wire.Health
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return resp, h
	}
	resp, h := get()
	if resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("proto %s, TLS version %x: want HTTP/2 over TLS 1.3", resp.Proto, resp.TLS.Version)
	}
	if !resp.TLS.PeerCertificates[0].Equal(first) {
		t.Error("served another certificate than the one issued")
	}
	tc := h.Checks["tls"]
	if tc.DaysLeft == nil || *tc.DaysLeft < 29 || *tc.DaysLeft > 30 || tc.Status != "ok" {
		t.Errorf("health tls check %+v", tc)
	}
	// A client without the CA refuses the node; a plain HTTP client gets nothing useful.
	if _, err := http.Get(n.URL() + "/v1/health"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v", err)
	}
	// Renewal: a new certificate in the same files, 5 days left, is served once the node looks again.
	second, err := ca.Issue(certDir, "edge-test", []string{"127.0.0.1"}, 5*24*time.Hour, fake.Now())
	if err != nil {
		t.Fatal(err)
	}
	fake.Advance(certCheckEvery + time.Second)
	resp, h = get()
	if !resp.TLS.PeerCertificates[0].Equal(second) {
		t.Fatal("renewed certificate not served")
	}
	if tc := h.Checks["tls"]; tc.Status != "degraded" || *tc.DaysLeft > 5 || h.Status != "degraded" {
		t.Errorf("a certificate with 5 days left: %+v (node %s)", tc, h.Status)
	}
}

// TestConnectionLimitsAndTimeouts: before, the server had only ReadHeaderTimeout: a connection that
// promised a body and never sent it, or sat idle, stayed open, and any number of them could be
// opened (issue 17: 1,000 of them starved a real search of descriptors). Now the read and idle
// timeouts close them, and a client address over its share is closed at accept and counted.
func TestConnectionLimitsAndTimeouts(t *testing.T) {
	n := listenNode(t, nil, func(c *config.Config) {
		c.MetricsPublic = true
		c.Limits.MaxConnsPerClient = 4
		c.Limits.ReadTimeout = config.Duration{Duration: time.Second}
		c.Limits.IdleTimeout = config.Duration{Duration: time.Second}
	})
	addr := n.Addr()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	testutil.WaitFor(t, 5*time.Second, "four connections open", func() bool { return n.ln.(interface{ Open() int }).Open() == 4 })
	// Reset at accept: the reset may come before the dial has seen its connection established.
	over, err := net.Dial("tcp", addr)
	if err == nil {
		over.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = over.Read(make([]byte, 1))
		over.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("fifth connection from one address: %v, want a reset (closed at accept)", err)
	}
	// A slow body: headers promise 200 KB, nothing follows; the read timeout ends it.
	fmt.Fprintf(held[0], "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{")
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		t0 := time.Now()
		_, err := io.Copy(io.Discard, c)
		if err != nil || time.Since(t0) > 5*time.Second {
			t.Errorf("connection %d (slow body or idle) still open after %v: %v", i, time.Since(t0), err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "connections released", func() bool { return n.ln.(interface{ Open() int }).Open() == 0 })
	resp, err := http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	found := false
	for sc.Scan() {
		if sc.Text() == `fedarms_http_connections_refused_total{reason="per_client"} 1` {
			found = true
		}
	}
	if !found {
		t.Error("refused connection not counted in fedarms_http_connections_refused_total")
	}
}

// TestHitStreamEndsWhenTokenRevoked: before, a hits stream kept delivering after its token was
// revoked (issue 17); now it ends within tokenRecheck on the node's clock, with an "end" event.
func TestHitStreamEndsWhenTokenRevoked(t *testing.T) {
	fake := clock.NewFake(time.Now())
	tn := startNodeWithClock(t, t.TempDir(), fake)
	secret, tok, err := tn.Tokens().Create("FR-WATCH", "FR", []string{"searcher"}, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := openHitStream(t, tn, secret)
	if err := tn.Tokens().Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	got := readUntilStreamEnds(t, lines, fake)
	if !strings.Contains(strings.Join(got, "\n"), "event: end") || !strings.Contains(strings.Join(got, "\n"), "revoked") {
		t.Errorf("stream ended without saying why: %q", got)
	}
}

// scrape reads /metrics with an operator token.
func (tn *testNode) scrape() (*http.Response, error) {
	req, _ := http.NewRequest("GET", tn.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tn.tokens["ops"])
	return http.DefaultClient.Do(req)
}

// TestMetricsNeedAnOperator: before, /metrics answered anyone, and its counters tell whether
// searches hit (issue 17); now it needs an operator token unless metrics_public.
func TestMetricsNeedAnOperator(t *testing.T) {
	tn := startNode(t, t.TempDir())
	for who, want := range map[string]int{"": 401, "wco": 403, "ops": 200, "admin": 200} {
		if a := tn.call(t, who, "GET", "/metrics", "", nil); a.status != want {
			t.Errorf("/metrics as %q: %d, want %d", who, a.status, want)
		}
	}
	open := startNode(t, t.TempDir(), func(c *config.Config) { c.MetricsPublic = true })
	if a := open.call(t, "", "GET", "/metrics", "", nil); a.status != 200 {
		t.Errorf("metrics_public: %d", a.status)
	}
}

// TestStreamsOutliveTheTimeouts: the read and write timeouts bound ordinary requests only; a hits
// stream stays open past both while its client is there (HTTP/1.1: the server's read of the idle
// connection would otherwise end the request's context at the read timeout).
func TestStreamsOutliveTheTimeouts(t *testing.T) {
	n := listenNode(t, nil, func(c *config.Config) {
		c.Limits.ReadTimeout = config.Duration{Duration: time.Second}
		c.Limits.WriteTimeout = config.Duration{Duration: time.Second}
	})
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	fr, _, err := n.Tokens().Create("FR-NCB", "FR", []string{"recorder", "searcher"}, "")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", n.URL()+"/v1/hits/stream", nil)
	req.Header.Set("Authorization", "Bearer "+fr)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	events := make(chan string, 10)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				events <- sc.Text()
			}
		}
	}()
	time.Sleep(2500 * time.Millisecond) // past both timeouts
	post := func(path, ctype, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", n.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fr)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	post("/v1/import", "application/x-ndjson", jsonLines(frRecord("FR-S1", "STREAM123")))
	post("/v1/search", "application/json", `{"serial":"STREAM123","make":"glock"}`)
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the stream ended at the timeouts")
		}
		if !strings.Contains(e, "FR-S1") {
			t.Errorf("event %s", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the stream")
	}
}
