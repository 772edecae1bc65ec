package node

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// TestNodeReadsTimeOnlyThroughItsClock keeps the rule of clock.go: no code of node or its
// subpackages reads the wall clock or waits on it, except where a line says why with "wall clock:"
// (network deadlines, raft's pace, a seed).
func TestNodeReadsTimeOnlyThroughItsClock(t *testing.T) {
	direct := regexp.MustCompile(`\btime\.(Now|Since|Until|After|AfterFunc|NewTimer|NewTicker|Tick|Sleep)\(`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		// http.go's request timing moves to the HTTP layer, which takes the node's clock.
		if path == "http.go" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if !direct.MatchString(l) || strings.Contains(l, "wall clock:") || (i > 0 && strings.Contains(lines[i-1], "wall clock:")) {
				continue
			}
			t.Errorf("%s:%d reads the wall clock; use the node's clock (n.now, n.since, n.clock): %s", path, i+1, strings.TrimSpace(l))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCopyStale(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const max = 10 * time.Minute
	for _, c := range []struct {
		name    string
		contact time.Time
		halted  bool
		want    bool
	}{
		{"heard now", now, false, false},
		{"heard exactly max_staleness ago", now.Add(-max), false, false},
		{"heard a moment longer ago", now.Add(-max - time.Nanosecond), false, true},
		{"never heard", time.Time{}, false, true},
		{"halted, heard now", now, true, true},
		{"contact ahead of the clock", now.Add(time.Hour), false, false},
	} {
		if got := copyStale(c.contact, now, max, c.halted); got != c.want {
			t.Errorf("%s: stale %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDeliveryBackoffFollowsTheClock: a failed delivery is retried after 250 ms, doubling to 5 s,
// on the node's clock; a hold lasts its time; a new connection (reset) and success (done) clear it.
func TestDeliveryBackoffFollowsTheClock(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	d := &deliverer{backoff: map[string]retry{}, clock: fake}
	if !d.due("h/gs") {
		t.Fatal("a key never tried is not due")
	}
	for _, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		d.failed("h/gs")
		fake.Advance(want - time.Nanosecond)
		if d.due("h/gs") {
			t.Fatalf("due before its delay of %v", want)
		}
		fake.Advance(2 * time.Nanosecond)
		if !d.due("h/gs") {
			t.Fatalf("not due after its delay of %v", want)
		}
	}
	d.failed("h/gs")
	d.reset()
	if !d.due("h/gs") {
		t.Fatal("a new connection did not clear the backoff")
	}
	d.hold("carry/h/gs", 10*time.Second)
	fake.Advance(10 * time.Second)
	if d.due("carry/h/gs") {
		t.Fatal("a hold ended before its time")
	}
	fake.Advance(time.Millisecond)
	if !d.due("carry/h/gs") {
		t.Fatal("a hold outlasted its time")
	}
	d.failed("h/ncb")
	d.done("h/ncb")
	d.failed("h/ncb") // after done, the delay starts again from 250 ms
	fake.Advance(250*time.Millisecond + time.Nanosecond)
	if !d.due("h/ncb") {
		t.Fatal("a delivered key kept its backoff")
	}
}

// TestOverdueHitFollowsTheClock: a hit's deadline, its overdue state (list, metric, health) and its
// decision time, and the audit entry of its search, are all the node's clock.
func TestOverdueHitFollowsTheClock(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	tn := startNodeWithClock(t, t.TempDir(), fake)
	tn.importLines(t, "fr", jsonLines(frRecord("FR-OD1", "ODUE4242")))
	var resp wire.SearchResponse
	tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": "ODUE4242", "make": "glock"}).decode(t, &resp)
	if len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
		t.Fatalf("no hit: %+v", resp.Results)
	}
	id := resp.Results[0].NotificationID
	overdue := func() (listed, metric, member int) {
		t.Helper()
		var list struct{ Hits []notify.Hit }
		tn.json(t, "fr", "GET", "/v1/hits?status=overdue", nil).decode(t, &list)
		return len(list.Hits), int(gauge(t, tn, "fedarms_hits_overdue", "")), tn.Members()[0].Overdue
	}
	h, err := tn.hits.Get(id)
	if err != nil || !h.SearchedAt.Equal(start) || !h.Deadline.Equal(start.Add(time.Hour)) {
		t.Fatalf("hit %+v (%v): want searched at %v with the routine deadline an hour later", h, err, start)
	}
	if e, _ := tn.audit.Tail(1); len(e) != 1 || e[0].Action != "search" || !e[0].Time.Equal(start) {
		t.Fatalf("the search's audit entry: %+v", e)
	}
	fake.Advance(time.Hour) // at the deadline: not yet overdue
	if l, m, mem := overdue(); l != 0 || m != 0 || mem != 0 {
		t.Fatalf("at the deadline: listed %d, metric %d, member %d; want none", l, m, mem)
	}
	fake.Advance(time.Second)
	if l, m, mem := overdue(); l != 1 || m != 1 || mem != 1 {
		t.Fatalf("past the deadline: listed %d, metric %d, member %d; want 1 each", l, m, mem)
	}
	if a := tn.json(t, "fr", "POST", "/v1/hits/"+id+"/decision", map[string]string{"decision": "confirmed"}); a.status != 200 {
		t.Fatalf("decision: %d %s", a.status, a.body)
	}
	if h, _ = tn.hits.Get(id); !h.DecidedAt.Equal(start.Add(time.Hour + time.Second)) {
		t.Fatalf("decided at %v, want the node's clock %v", h.DecidedAt, fake.Now())
	}
	if l, m, mem := overdue(); l != 0 || m != 0 || mem != 0 {
		t.Fatalf("after the decision: listed %d, metric %d, member %d; want none", l, m, mem)
	}
}

// TestStalenessIsOneRuleOnTheNodesClock moves the node's clock around max_staleness and checks that
// search coverage, GET /v1/shards, health, the metric and the lag the console reads all agree. A
// node leading its shards reports contact at the wall clock's now (replication), so the fake is
// set relative to it, with margins far above the test's own running time.
func TestStalenessIsOneRuleOnTheNodesClock(t *testing.T) {
	fake := clock.NewFake(time.Now())
	tn := startNodeWithClock(t, t.TempDir(), fake)
	max := tn.cfg.MaxStaleness.Duration
	check := func(wantStale bool) {
		t.Helper()
		var shards struct {
			Shards            []wire.ShardStatus
			StaleAfterSeconds float64 `json:"stale_after_seconds"`
		}
		tn.json(t, "admin", "GET", "/v1/shards", nil).decode(t, &shards)
		if shards.StaleAfterSeconds != max.Seconds() || len(shards.Shards) == 0 {
			t.Fatalf("GET /v1/shards: stale_after_seconds %v (max_staleness %v), %d shards", shards.StaleAfterSeconds, max, len(shards.Shards))
		}
		for _, s := range shards.Shards {
			if s.Stale != wantStale {
				t.Errorf("GET /v1/shards: %s stale %v, want %v", s.Shard, s.Stale, wantStale)
			}
		}
		resp, err := tn.Search(context.Background(), auth.Principal{Agency: "WCO-I2C", Roles: []string{"searcher"}}, wire.SearchRequest{Serial: "NOTHING-1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Coverage.Shards {
			if c.Stale != wantStale {
				t.Errorf("coverage: %s stale %v, want %v", c.Shard, c.Stale, wantStale)
			}
		}
		if got := gauge(t, tn, "fedarms_shard_stale", "europe") == 1; got != wantStale {
			t.Errorf("fedarms_shard_stale{shard=europe} %v, want %v", got, wantStale)
		}
		if h := tn.Health(); (h.Status == "degraded") != wantStale || (h.Checks["shard:europe"].Detail != "") != wantStale {
			t.Errorf("health %s, europe %+v; want stale %v", h.Status, h.Checks["shard:europe"], wantStale)
		}
		for _, s := range tn.Members()[0].Shards { // what the console compares with stale_after_seconds
			if got := float64(s.LagSeconds) > shards.StaleAfterSeconds; got != wantStale {
				t.Errorf("member lag of %s: %d s against %v s: stale %v, want %v", s.Shard, s.LagSeconds, shards.StaleAfterSeconds, got, wantStale)
			}
		}
	}
	check(false)
	fake.Set(time.Now().Add(max - 30*time.Second))
	check(false)
	fake.Set(time.Now().Add(max + 30*time.Second))
	check(true)
}

// gauge reads one value of a metric family from /metrics: the one labelled shard (or unlabelled).
func gauge(t *testing.T, tn *testNode, name, shard string) float64 {
	t.Helper()
	resp, err := tn.scrape()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range families[name].GetMetric() {
		match := shard == ""
		for _, l := range m.GetLabel() {
			match = match || (l.GetName() == "shard" && l.GetValue() == shard)
		}
		if match {
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s{shard=%q} in /metrics", name, shard)
	return 0
}
