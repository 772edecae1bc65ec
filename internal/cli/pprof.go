package cli

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// pprofEnv names the environment variable that, when set to a loopback address such as
// 127.0.0.1:6060, makes dev and agent serve Go's profiler there (/debug/pprof/): how the benchmarks
// profile a loaded node. It is an operator's tool, off by default, and refuses any address that is
// not loopback, since profiles show memory contents.
const pprofEnv = "FEDARMS_PPROF"

// startPprof serves the profiler on the address in FEDARMS_PPROF, if any.
func startPprof(log *slog.Logger) error {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New(pprofEnv + " must be a loopback address (profiles show memory contents)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	log.Warn("profiler listening", "addr", ln.Addr().String())
	go http.Serve(ln, mux)
	return nil
}
