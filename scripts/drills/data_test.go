//go:build localfed

package drills

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
)

// size reads a drill size from the environment: LOCALFED_SHORT=1 picks the short (CI) size.
func size(t *testing.T, name string, full, short int) int {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", name, v)
		}
		return n
	}
	if os.Getenv("LOCALFED_SHORT") == "1" {
		return short
	}
	return full
}

// genRecords runs `fedarms gen` (the binary localfed built) and rewrites each record to country,
// prefixing its id so that several batches never collide. It returns JSON lines and the ids.
func genRecords(t *testing.T, f *fed, n int, seed int64, country, prefix string) ([][]byte, []string) {
	t.Helper()
	cmd := exec.Command(f.fedarms(), "gen", "--records", strconv.Itoa(n), "--seed", strconv.FormatInt(seed, 10))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fedarms gen: %v", err)
	}
	lines := make([][]byte, 0, n)
	ids := make([]string, 0, n)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r record.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("gen line: %v", err)
		}
		r.RecordingCountry = country
		r.ID = prefix + r.ID
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
		ids = append(ids, r.ID)
	}
	if len(lines) != n {
		t.Fatalf("fedarms gen gave %d records, want %d", len(lines), n)
	}
	return lines, ids
}

// importLines posts lines to /v1/import in chunks and fails on any rejection.
func importLines(t *testing.T, n *nodeClient, token string, lines [][]byte, chunk int) {
	t.Helper()
	if err := importLinesErr(n, token, lines, chunk); err != nil {
		t.Fatal(err)
	}
}

func importLinesErr(n *nodeClient, token string, lines [][]byte, chunk int) error {
	for i := 0; i < len(lines); i += chunk {
		part := lines[i:min(i+chunk, len(lines))]
		body := append(bytes.Join(part, []byte("\n")), '\n')
		code, b, err := n.do("POST", "/v1/import", token, body, "application/x-ndjson")
		if err != nil {
			return fmt.Errorf("import at %s: %w", n.name, err)
		}
		var res struct {
			Accepted int               `json:"accepted"`
			Rejected []json.RawMessage `json:"rejected"`
		}
		if code != 200 || json.Unmarshal(b, &res) != nil || res.Accepted != len(part) {
			return fmt.Errorf("import of %d lines at %s: %d %.400s", len(part), n.name, code, b)
		}
	}
	return nil
}

// probeRecord is a record with a serial no other record has, so a search for it finds it alone.
func probeRecord(country string, run string, i int) record.Record {
	return record.Record{ID: fmt.Sprintf("%s-%s-%05d", country, run, i), Serial: fmt.Sprintf("QZ%s%07dXK", run, i),
		Make: "Glock", Model: "17", Calibre: "9x19mm", Type: "pistol", RecordingCountry: country, Status: "stolen"}
}

// searchResp is the part of a search answer the drills read.
type searchResp struct {
	Results []struct {
		ID string `json:"id"`
	} `json:"results"`
	Coverage struct {
		Complete bool `json:"complete"`
		Shards   []struct {
			Shard  string `json:"shard"`
			Source string `json:"source"`
			Stale  bool   `json:"stale"`
		} `json:"shards"`
	} `json:"coverage"`
}

func (s *searchResp) has(id string) bool {
	return slices.ContainsFunc(s.Results, func(r struct {
		ID string `json:"id"`
	}) bool {
		return r.ID == id
	})
}

// stale reports the coverage entry of a shard: whether it is there, and whether it is stale.
func (s *searchResp) stale(shard string) (found, stale bool) {
	for _, c := range s.Coverage.Shards {
		if c.Shard == shard {
			return true, c.Stale
		}
	}
	return false, false
}

func search(n *nodeClient, token, serial string) (*searchResp, error) {
	var out searchResp
	_, err := n.json("POST", "/v1/search", token, map[string]any{"serial": serial, "limit": 5}, &out)
	return &out, err
}

// convergence compares, shard by shard, every reachable holder's digest with the central nodes'.
// It returns "" when all agree, or what differs. Nodes in skip are left out (they are down).
func (f *fed) convergence(skip ...string) string {
	status := map[string]map[string]shardStatus{}
	for _, name := range f.order {
		if slices.Contains(skip, name) {
			continue
		}
		ss, err := f.nodes[name].shardsOf()
		if err != nil {
			return fmt.Sprintf("%s: %v", name, err)
		}
		status[name] = ss
	}
	var diffs []string
	shards := map[string]bool{}
	for _, ss := range status {
		for s := range ss {
			shards[s] = true
		}
	}
	for shard := range shards {
		want := ""
		var wantRecords uint64
		for _, name := range f.order {
			s, ok := status[name][shard]
			if !ok {
				continue
			}
			if want == "" {
				want, wantRecords = s.Digest, s.Records
				continue
			}
			if s.Digest != want {
				diffs = append(diffs, fmt.Sprintf("%s/%s: %d records (applied %d), others %d", name, shard, s.Records, s.AppliedIndex, wantRecords))
			}
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// waitConverged waits until every reachable holder agrees, and returns how long it took.
func (f *fed) waitConverged(t *testing.T, timeout time.Duration, skip ...string) time.Duration {
	t.Helper()
	t0 := time.Now()
	last := ""
	for {
		if last = f.convergence(skip...); last == "" {
			return time.Since(t0)
		}
		if time.Since(t0) > timeout {
			t.Fatalf("not converged within %v: %s", timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// records returns a node's record count of a shard (0 when it does not answer).
func records(n *nodeClient, shard string) uint64 {
	ss, err := n.shardsOf()
	if err != nil {
		return 0
	}
	return ss[shard].Records
}

// quantile returns the q-quantile (nearest rank) of ds, which it sorts.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds)) + 0.5)
	return ds[min(max(i-1, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
