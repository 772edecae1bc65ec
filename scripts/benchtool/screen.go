package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fedarms/fedarms/internal/record"
)

// screenBench measures bulk screening (POST /v1/search/batch) against the same queries sent one
// by one (POST /v1/search) by concurrent clients, in the same run. The queries are what an officer
// types: serial, make and model; a fraction -positive of them are recorded serials (from -in), the
// rest the serials of other firearms (from -others, records generated with another seed).
func screenBench(args []string) error {
	fs := newFlags("screen")
	in := fs.String("in", "", "the node's records, JSON lines (the recorded queries come from here)")
	others := fs.String("others", "", "records the node does not hold, JSON lines (the unrecorded queries)")
	addr := fs.String("addr", "http://127.0.0.1:8080", "node address")
	tokenFile := fs.String("token-file", "", "token file")
	n := fs.Int("n", 1000000, "queries in the screening")
	positive := fs.Float64("positive", 0.01, "fraction of queries for recorded serials")
	single := fs.Int("single", 40000, "queries sent one by one (the first ones of the screening's)")
	clients := fs.Int("clients", 4, "concurrent clients sending one by one")
	nodePID := fs.Int("node-pid", 0, "the node's process id: report the CPU seconds it spent in each phase (Linux /proc)")
	fs.Parse(args)
	cpu := func() float64 { return procCPU(*nodePID) }
	recs, err := readRecords(*in)
	if err != nil {
		return err
	}
	pos := sample(recs, max(1, int(float64(*n)**positive)), 43)
	recorded := make(map[string]bool, len(recs))
	for _, r := range recs {
		recorded[serialKey(r.Serial)] = true
	}
	recs = nil
	all, err := readRecords(*others)
	if err != nil {
		return err
	}
	// Another seed's firearms can carry a serial the register holds (short factory serials
	// repeat): those would be recorded, not unrecorded, queries. Only the others are kept.
	var neg []record.Record
	for _, r := range all {
		if !recorded[serialKey(r.Serial)] {
			neg = append(neg, r)
		}
	}
	all = nil
	var body bytes.Buffer
	lines := make([][]byte, 0, *n)
	for i := range *n {
		r := neg[i%len(neg)]
		if float64(i%1000) < *positive*1000 {
			r = pos[(i/1000)%len(pos)]
		}
		b, _ := json.Marshal(map[string]string{"serial": r.Serial, "make": r.Make, "model": r.Model})
		lines = append(lines, b)
		body.Write(b)
		body.WriteByte('\n')
	}
	neg = nil
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))

	// The screening: one request, the answer read as it streams.
	req, _ := http.NewRequest("POST", *addr+"/v1/search/batch", bytes.NewReader(body.Bytes()))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	t0, c0, s0, m0 := time.Now(), cpu(), selfCPU(), machineCPU()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("screening: %s %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	answered, withResults := 0, 0
	var done struct {
		Done                bool
		Count, Hits, Errors int
	}
	for sc.Scan() {
		b := sc.Bytes()
		if bytes.HasPrefix(b, []byte(`{"done"`)) {
			if err := json.Unmarshal(b, &done); err != nil {
				return err
			}
			break
		}
		answered++
		if !bytes.Contains(b, []byte(`"results":[]`)) {
			withResults++
		}
	}
	resp.Body.Close()
	batchTook, batchCPU, clientCPU := time.Since(t0), cpu()-c0, selfCPU()-s0
	m1 := machineCPU()
	idle := 0.0
	if m1.total > m0.total {
		idle = (m1.idle - m0.idle) / (m1.total - m0.total)
	}
	if !done.Done || done.Count != *n {
		return fmt.Errorf("screening ended after %d answers without a complete done line (%+v)", answered, done)
	}

	// The same queries one by one, -clients at a time.
	u, _ := url.Parse(*addr)
	m := min(*single, len(lines))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	t1, c1 := time.Now(), cpu()
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &connSearcher{host: u.Host, token: token}
			defer s.close()
			for {
				i := int(next.Add(1)) - 1
				if i >= m {
					return
				}
				if _, err := s.send(lines[i]); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	singleTook, singleCPU := time.Since(t1), cpu()-c1
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("one by one: %w", err)
	}
	out := map[string]any{
		"mode": "screen", "queries": *n, "positive_fraction": *positive,
		"batch": map[string]any{"seconds": batchTook.Seconds(), "queries_per_s": float64(*n) / batchTook.Seconds(),
			"hits": done.Hits, "errors": done.Errors, "lines_with_results": withResults,
			"node_cpu_s": batchCPU, "node_cpu_us_per_query": 1e6 * batchCPU / float64(*n),
			"client_cpu_s": clientCPU, "machine_idle": idle},
		"one_by_one": map[string]any{"queries": m, "clients": *clients, "seconds": singleTook.Seconds(),
			"queries_per_s": float64(m) / singleTook.Seconds(), "node_cpu_s": singleCPU,
			"node_cpu_us_per_query": 1e6 * singleCPU / float64(m)},
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// procCPU returns the CPU seconds (user and system) process pid has used, 0 without a pid or
// where /proc cannot tell.
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
	st, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
	return (ut + st) / clockTicks
}

// selfCPU returns the CPU seconds (user and system) this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// machineTimes is the machine's idle and total CPU time (in clock ticks, all CPUs) from /proc/stat.
type machineTimes struct{ idle, total float64 }

// machineCPU reads the machine's CPU times; zero where /proc cannot tell.
func machineCPU() machineTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var t machineTimes
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		t.total += x
		if i == 3 || i == 4 { // idle, iowait
			t.idle += x
		}
	}
	return t
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// serialKey is a serial as the register compares it at least: letters and digits, upper case.
func serialKey(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b)
}
