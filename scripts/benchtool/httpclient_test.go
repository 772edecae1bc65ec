package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSearchersSendTheSameRequest checks that both clients send the request the node expects,
// read plain and chunked answers on one connection, report a refused search as an error, and
// that the conn client dials again when the server closes its connection.
func TestSearchersSendTheSameRequest(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		if r.Method != "POST" || r.URL.Path != "/v1/search" || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch req["serial"] {
		case "REFUSED":
			http.Error(w, "refused", http.StatusForbidden)
		case "CLOSE":
			w.Header().Set("Connection", "close")
			w.Write([]byte(`{}`))
		case "BIG": // larger than the server's buffer: sent chunked
			w.Write([]byte(`{"results":"` + strings.Repeat("x", 64<<10) + `"}`))
		default:
			w.Write([]byte(`{"results":[]}`))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, kind := range []string{"conn", "nethttp"} {
		conns.Store(0)
		s, err := newSearcher(kind, srv.URL, "tok")
		if err != nil {
			t.Fatal(err)
		}
		for _, serial := range []string{"A1", "BIG", "A2", "CLOSE", "A3", "BIG"} {
			if _, err := s.search(serial); err != nil {
				t.Errorf("%s: search %s: %v", kind, serial, err)
			}
		}
		if _, err := s.search("REFUSED"); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("%s: a refused search gave %v, want status 403", kind, err)
		}
		if _, err := s.search("A4"); err != nil {
			t.Errorf("%s: search after a refusal: %v", kind, err)
		}
		// Kept alive throughout, except that the server closed one connection.
		if n := conns.Load(); n != 2 {
			t.Errorf("%s: %d connections for 8 searches, want 2", kind, n)
		}
	}
	if _, err := newSearcher("conn", "127.0.0.1:1", "tok"); err == nil {
		t.Error("an address without http:// was accepted")
	}
}
