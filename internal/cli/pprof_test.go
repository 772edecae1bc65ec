package cli

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
)

func TestPprofOnlyOnLoopback(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Setenv(pprofEnv, "0.0.0.0:0")
	if err := startPprof(log); err == nil {
		t.Fatal("a profiler on every interface was started")
	}
	t.Setenv(pprofEnv, "127.0.0.1:36061")
	if err := startPprof(log); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://127.0.0.1:36061/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		t.Fatalf("profiler index: %s", resp.Status)
	}
}
