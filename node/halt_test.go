package node

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/wire"
)

// setFree makes the node read free bytes of its data dir from now on.
func (tn *testNode) setFree(free uint64) {
	tn.disk.mu.Lock()
	tn.disk.statfs = func(string) (uint64, error) { return free, nil }
	tn.disk.read = time.Time{}
	tn.disk.mu.Unlock()
}

func (tn *testNode) shard(t *testing.T, name string) wire.ShardStatus {
	t.Helper()
	var out struct{ Shards []wire.ShardStatus }
	tn.json(t, "ops", "GET", "/v1/shards", nil).decode(t, &out)
	for _, s := range out.Shards {
		if s.Shard == name {
			return s
		}
	}
	t.Fatalf("no shard %s in %+v", name, out.Shards)
	return wire.ShardStatus{}
}

// A shard whose state file cannot be written halts: no panic, writes to it are answered 503 with
// Retry-After, reads are served from the copy, /v1/shards, /v1/health and /metrics say so; other
// shards go on, and it resumes by itself when the disk accepts writes again.
func TestShardHaltedOnStorageErrorRefusesWritesServesReadsAndResumes(t *testing.T) {
	tn := startNode(t, t.TempDir())
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-1", "S1")); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	tn.groups["europe"].State().InjectWriteFaults(1<<30, syscall.ENOSPC)
	inflight := make(chan answer, 1)
	go func() { inflight <- tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-2", "S2")) }()
	testutil.WaitFor(t, 10*time.Second, "europe to halt", func() bool { return tn.shard(t, "europe").Halted != "" })
	// The write that met the full disk is in the log: its writer hears 503 rather than waiting for
	// the disk, and it is applied once the shard resumes.
	if a := <-inflight; a.status != 503 {
		t.Fatalf("the write in flight when the shard halted: %d %s", a.status, a.body)
	}

	s := tn.shard(t, "europe")
	if !strings.Contains(s.Halted, "no space left on device") || !s.Stale || s.HaltedSince.IsZero() {
		t.Fatalf("halted shard reported as %+v", s)
	}
	a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-3", "S3"))
	if code, _ := a.errorCode(t); a.status != 503 || code != "unavailable" || a.header.Get("Retry-After") == "" {
		t.Fatalf("write to a halted shard: %d %s (Retry-After %q)", a.status, a.body, a.header.Get("Retry-After"))
	}
	if a := tn.json(t, "fr", "GET", "/v1/records/FR-1", nil); a.status != 200 {
		t.Fatalf("read from a halted shard: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "admin", "POST", "/v1/records", fedRecords("KE", 1, 2)[0]); a.status != 201 {
		t.Fatalf("a write to another shard: %d %s", a.status, a.body)
	}
	h := tn.Health()
	if c := h.Checks["shard:europe"]; h.Status != "degraded" || c.Status != "degraded" || !strings.Contains(c.Detail, "halted") {
		t.Fatalf("health of a halted shard: %+v", h)
	}
	m := string(tn.call(t, "ops", "GET", "/metrics", "", nil).body)
	if !strings.Contains(m, `fedarms_shard_halted{shard="europe"} 1`) || !strings.Contains(m, `fedarms_shard_halted{shard="africa"} 0`) {
		t.Fatalf("metrics do not show the halt:\n%s", grepLines(m, "fedarms_shard_halted"))
	}

	tn.groups["europe"].State().InjectWriteFaults(0, nil)
	testutil.WaitFor(t, 20*time.Second, "europe to resume", func() bool { return tn.shard(t, "europe").Halted == "" })
	if a := tn.json(t, "fr", "GET", "/v1/records/FR-2", nil); a.status != 200 {
		t.Fatalf("the write in flight when the shard halted, after resuming: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-3", "S3")); a.status != 201 {
		t.Fatalf("write after resuming: %d %s", a.status, a.body)
	}
	if tn.Health().Status != "ok" {
		t.Fatalf("health after resuming: %+v", tn.Health())
	}
}

// Below limits.min_free_bytes record writes are refused with 503 insufficient_storage and health
// is degraded; with space back they go through.
func TestWritesRefusedBelowFreeSpaceFloor(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.setFree(1 << 20)
	a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-1", "S1"))
	if code, _ := a.errorCode(t); a.status != 503 || code != "insufficient_storage" || a.header.Get("Retry-After") == "" {
		t.Fatalf("write below the floor: %d %s (Retry-After %q)", a.status, a.body, a.header.Get("Retry-After"))
	}
	h := tn.Health()
	if c := h.Checks["disk"]; h.Status != "degraded" || c.Status != "degraded" || !strings.Contains(c.Detail, "min_free_bytes") {
		t.Fatalf("health below the floor: %+v", h)
	}
	tn.setFree(10 << 30)
	if a := tn.json(t, "fr", "POST", "/v1/records", frRecord("FR-1", "S1")); a.status != 201 {
		t.Fatalf("write with space back: %d %s", a.status, a.body)
	}
	if h := tn.Health(); h.Checks["disk"].Status != "ok" {
		t.Fatalf("health with space back: %+v", h)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
