package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// searcher sends one search and returns how long the answer took; each concurrent client has its
// own.
type searcher interface {
	search(serial string) (time.Duration, error)
}

// newSearcher returns a searcher of the given kind: "conn" keeps one HTTP/1.1 keep-alive
// connection and writes and reads the messages itself; "nethttp" uses net/http's client.
//
// Both send the same request to the same server. They differ in what the client costs: net/http's
// transport hands every request and response between goroutines (a read loop and a write loop per
// connection) and builds a request object and header maps each time, which on a 2-core machine
// takes CPU the node under test would otherwise have. In deployment the clients are elsewhere.
func newSearcher(kind, addr, token string) (searcher, error) {
	switch kind {
	case "conn":
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-addr %q: want http://HOST:PORT or https://HOST:PORT", addr)
		}
		return &connSearcher{host: u.Host, token: token, tls: u.Scheme == "https"}, nil
	case "nethttp":
		return &netSearcher{addr: addr, token: token,
			hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: tlsConfig(), ForceAttemptHTTP2: rootCAs != nil}}}, nil
	}
	return nil, fmt.Errorf("-client %q: want conn or nethttp", kind)
}

// rootCAs is the CA a node serving https:// is trusted with (-ca); nil: the system's roots.
var rootCAs *x509.CertPool

// trustCA reads -ca.
func trustCA(file string) error {
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	rootCAs = x509.NewCertPool()
	if !rootCAs.AppendCertsFromPEM(b) {
		return fmt.Errorf("-ca %s: no PEM certificate", file)
	}
	return nil
}

func tlsConfig() *tls.Config { return &tls.Config{RootCAs: rootCAs} }

// connSearcher speaks HTTP/1.1 over one connection of its own, redialled when the server closes it.
type connSearcher struct {
	host, token string
	tls         bool // HTTP/1.1 over TLS
	c           net.Conn
	r           *bufio.Reader
	w           *bufio.Writer
}

func (s *connSearcher) search(serial string) (time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"serial": serial})
	return s.send(body)
}

// send posts one search request body and reads the answer.
func (s *connSearcher) send(body []byte) (time.Duration, error) {
	t := time.Now()
	if s.c == nil {
		var c net.Conn
		var err error
		if s.tls {
			cfg := tlsConfig()
			cfg.NextProtos = []string{"http/1.1"}
			c, err = tls.Dial("tcp", s.host, cfg)
		} else {
			c, err = net.Dial("tcp", s.host)
		}
		if err != nil {
			return 0, err
		}
		s.c, s.r, s.w = c, bufio.NewReaderSize(c, 64<<10), bufio.NewWriter(c)
	}
	s.w.WriteString("POST /v1/search HTTP/1.1\r\nHost: ")
	s.w.WriteString(s.host)
	s.w.WriteString("\r\nAuthorization: Bearer ")
	s.w.WriteString(s.token)
	s.w.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	s.w.WriteString(strconv.Itoa(len(body)))
	s.w.WriteString("\r\n\r\n")
	s.w.Write(body)
	if err := s.w.Flush(); err != nil {
		s.close()
		return 0, err
	}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		s.close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	if err != nil || resp.Close {
		s.close()
	}
	if err != nil {
		return d, err
	}
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d, nil
}

func (s *connSearcher) close() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}

// netSearcher sends each search with net/http's client.
type netSearcher struct {
	addr, token string
	hc          *http.Client
}

func (s *netSearcher) search(serial string) (time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"serial": serial})
	req, err := http.NewRequest("POST", s.addr+"/v1/search", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	t := time.Now()
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	if err != nil {
		return d, err
	}
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d, nil
}
