package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/wire"
)

// searchInproc opens a stopped node's data dir in this process (timing open-to-ready, which is the
// restart time), then times node.Search (match, record fetch, audit) for exact serials.
func searchInproc(args []string) error {
	fs := newFlags("search-inproc")
	in := fs.String("in", "", "records, JSON lines (queries are drawn from them)")
	data := fs.String("data", "", "data dir of a stopped node")
	n := fs.Int("n", 20000, "searches")
	durability := fs.String("audit", "async", "audit durability for the timed searches: sync or async")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed searches here")
	fs.Parse(args)
	recs, err := readRecords(*in)
	if err != nil {
		return err
	}
	queries := sample(recs, *n, 42)
	recs = nil
	c := config.Default()
	c.DataDir = *data
	c.HTTPAddr = "127.0.0.1:0"
	c.Audit.Durability = *durability
	heapBefore := heapMB()
	t0 := time.Now()
	nd, err := node.Open(c, node.Options{})
	if err != nil {
		return err
	}
	defer nd.Close()
	ctx := context.Background()
	if err := nd.WaitReady(ctx); err != nil {
		return err
	}
	ready := time.Since(t0)
	heapAfter := heapMB()
	p := auth.Principal{Agency: "BENCH", Roles: []string{"searcher"}}
	// Warm up, then time.
	for _, q := range queries[:min(1000, len(queries))] {
		nd.Search(ctx, p, wire.SearchRequest{Serial: q.Serial})
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ds := make([]time.Duration, 0, len(queries))
	misses := 0
	for _, q := range queries {
		t := time.Now()
		resp, err := nd.Search(ctx, p, wire.SearchRequest{Serial: q.Serial, Make: q.Make})
		ds = append(ds, time.Since(t))
		if err != nil {
			return err
		}
		if !found(resp, q.ID) {
			misses++
		}
	}
	return emit(map[string]any{
		"mode": "search-inproc", "audit": *durability, "records": nd.Health().Records,
		"ready_after_restart_s": ready.Seconds(), "heap_mb_before_open": heapBefore, "heap_mb_after_open": heapAfter,
		"latency": summarise(ds), "truth_not_in_results": misses,
	})
}

func found(resp *wire.SearchResponse, id string) bool {
	for _, r := range resp.Results {
		if r.ID == id {
			return true
		}
	}
	return false
}

// searchHTTP times exact searches over the API, one client at a time, then with -clients at once
// for throughput.
func searchHTTP(args []string) error {
	fs := newFlags("search-http")
	in := fs.String("in", "", "records, JSON lines")
	addr := fs.String("addr", "http://127.0.0.1:8080", "node address")
	tokenFile := fs.String("token-file", "", "admin token file")
	n := fs.Int("n", 20000, "searches")
	clients := fs.Int("clients", 4, "concurrent clients for the throughput run")
	negative := fs.Float64("negative", 0, "fraction of queries for serials that are not recorded (hits are rare in real traffic)")
	client := fs.String("client", "conn", "HTTP client: conn (one keep-alive connection per client, messages written and read directly) or nethttp (net/http's client)")
	caFile := fs.String("ca", "", "CA certificate (PEM) of a node serving https://")
	serialN := fs.Int("serial", -1, "searches for the one-client latency run, after 500 to warm up (-1: as many as -n; 0: no one-client run)")
	fs.Parse(args)
	if err := trustCA(*caFile); err != nil {
		return err
	}
	recs, err := readRecords(*in)
	if err != nil {
		return err
	}
	queries := sample(recs, *n, 43)
	recs = nil
	for i := range queries {
		if float64(i%1000) < *negative*1000 {
			queries[i].Serial = fmt.Sprintf("NX%08dQ", i) // no such serial
		}
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))
	serial, err := newSearcher(*client, *addr, token)
	if err != nil {
		return err
	}
	one := queries
	if *serialN >= 0 {
		one = queries[:min(*serialN, len(queries))]
	}
	for _, q := range one[:min(500, len(one))] {
		serial.search(q.Serial)
	}
	ds := make([]time.Duration, 0, len(one))
	for _, q := range one {
		d, err := serial.search(q.Serial)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	// Throughput with several clients.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var cds []time.Duration
	var failed int
	var firstErr error
	searchers := make([]searcher, *clients)
	for c := range searchers {
		if searchers[c], err = newSearcher(*client, *addr, token); err != nil {
			return err
		}
	}
	t0 := time.Now()
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			local := make([]time.Duration, 0, len(queries) / *clients)
			bad := 0
			var badErr error
			for i := c; i < len(queries); i += *clients {
				d, err := searchers[c].search(queries[i].Serial)
				if err != nil {
					bad, badErr = bad+1, err
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			cds = append(cds, local...)
			failed += bad
			if firstErr == nil {
				firstErr = badErr
			}
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	took := time.Since(t0)
	if failed > 0 {
		return fmt.Errorf("%d of %d concurrent searches failed, e.g. %v", failed, len(queries), firstErr)
	}
	return emit(map[string]any{
		"mode": "search-http", "client": *client, "negative_fraction": *negative, "serial_client": summarise(ds),
		"concurrent": map[string]any{"clients": *clients, "searches_per_s": float64(len(cds)) / took.Seconds(), "latency": summarise(cds)},
	})
}
