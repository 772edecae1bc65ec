package node

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// webhookReceiver is a national system behind a bad link: down (503, or the connection closed
// unanswered) until downUntil on the node's clock, then every third request is taken but its
// answer lost (503), so the node sends it again. It checks each signature on its own and drops a
// repeat by the event's id, as a receiver should.
type webhookReceiver struct {
	secret    []byte
	clock     *clock.Fake
	downUntil time.Time

	mu       sync.Mutex
	requests int
	taken    []notify.WebhookEvent // first copies, in arrival order
	seen     map[string]bool
	repeats  int
	bad      []string
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.clock.Now().Before(r.downUntil) {
		if r.requests%2 == 0 {
			conn, _, herr := http.NewResponseController(w).Hijack()
			if herr == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	ts := req.Header.Get("X-Fedarms-Timestamp")
	mac := hmac.New(sha256.New, r.secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	sent, _ := strconv.ParseInt(ts, 10, 64)
	if err != nil || !hmac.Equal([]byte(want), []byte(req.Header.Get("X-Fedarms-Signature"))) {
		r.bad = append(r.bad, "signature "+req.Header.Get("X-Fedarms-Signature"))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if d := r.clock.Now().Unix() - sent; d < 0 || d > 5 {
		r.bad = append(r.bad, "timestamp "+ts)
	}
	var e notify.WebhookEvent
	if err := json.Unmarshal(body, &e); err != nil || e.ID != e.Hit.ID+"/"+e.Kind {
		r.bad = append(r.bad, "event "+string(body))
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if r.seen[e.ID] {
		r.repeats++
	} else {
		r.seen[e.ID] = true
		r.taken = append(r.taken, e)
	}
	if r.requests%3 == 0 {
		http.Error(w, "answer lost", http.StatusServiceUnavailable)
	}
}

func (r *webhookReceiver) state() (requests, taken, repeats int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, len(r.taken), r.repeats, append([]string(nil), r.bad...)
}

// TestWebhookDeliversEveryEventOnceThroughOutageAndRestart: hits and decisions made while the
// receiver is down wait in node.db across a restart, then reach it through failures, each once
// after it drops repeats, signed, a hit before its decision.
func TestWebhookDeliversEveryEventOnceThroughOutageAndRestart(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	secret := []byte("a-national-system-secret-0123456789")
	rec := &webhookReceiver{secret: secret, clock: fake, downUntil: start.Add(30 * time.Second), seen: map[string]bool{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	dir := t.TempDir()
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	withWebhook := func(c *config.Config) {
		c.Notify.Webhook = &config.Webhook{URL: srv.URL, SecretFile: secretFile}
	}
	tn := startNodeWithClock(t, dir, fake, withWebhook)

	const hits = 12
	var recs []any
	for i := range hits {
		recs = append(recs, frRecord(fmt.Sprintf("FR-W%02d", i), fmt.Sprintf("WEBHOOK%05d", i)))
	}
	tn.importLines(t, "fr", jsonLines(recs...))
	var ids []string
	for i := range hits {
		var resp wire.SearchResponse
		tn.json(t, "wco", "POST", "/v1/search", map[string]any{"serial": fmt.Sprintf("WEBHOOK%05d", i), "make": "glock"}).decode(t, &resp)
		if len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
			t.Fatalf("search %d: no hit: %+v", i, resp.Results)
		}
		ids = append(ids, resp.Results[0].NotificationID)
		if i%2 == 0 {
			if a := tn.json(t, "fr", "POST", "/v1/hits/"+ids[i]+"/decision", map[string]string{"decision": "confirmed"}); a.status != 200 {
				t.Fatalf("decision on %s: %d %s", ids[i], a.status, a.body)
			}
		}
	}
	want := hits + hits/2
	testutil.WaitFor(t, 20*time.Second, "the sender to try the receiver", func() bool {
		r, _, _, _ := rec.state()
		return r > 0
	})
	if q, _ := tn.hits.WebhookQueue(); q != uint64(want) {
		t.Fatalf("queued %d events, want %d", q, want)
	}
	testutil.WaitFor(t, 20*time.Second, "health to say the receiver is down", func() bool {
		c := tn.Health().Checks["webhook"]
		return c.Status == "degraded" && (strings.Contains(c.Detail, "503") || strings.Contains(c.Detail, "EOF"))
	})

	// A restart with every event still queued, 10 s after the first try: the head's age goes on.
	fake.Advance(10 * time.Second)
	tn.srv.Close()
	tn.Close()
	before, _, _, _ := rec.state()
	tn2 := startNodeWithClock(t, dir, fake, withWebhook)
	testutil.WaitFor(t, 20*time.Second, "the sender to try again after the restart", func() bool {
		r, _, _, _ := rec.state()
		return r > before
	})
	if age := tn2.webhook.oldestAge(); age < 10*time.Second {
		t.Fatalf("the head's age after the restart: %v, want at least 10s", age)
	}
	testutil.WaitFor(t, 60*time.Second, "every event at the receiver", func() bool {
		fake.Advance(time.Second)
		_, taken, _, _ := rec.state()
		q, _ := tn2.hits.WebhookQueue()
		return taken == want && q == 0
	})
	requests, taken, repeats, bad := rec.state()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused: %q", bad)
	}
	if repeats == 0 {
		t.Fatalf("no repeat in %d requests: the lost answers were not sent again", requests)
	}
	rec.mu.Lock()
	pos := map[string]int{}
	for i, e := range rec.taken {
		pos[e.ID] = i
	}
	rec.mu.Unlock()
	for i, id := range ids {
		h, ok := pos[id+"/hit"]
		if !ok {
			t.Fatalf("hit %s never delivered", id)
		}
		if i > 0 && h < pos[ids[i-1]+"/hit"] {
			t.Fatalf("hit %s delivered before the hit made before it", id)
		}
		d, ok := pos[id+"/decision"]
		if ok != (i%2 == 0) {
			t.Fatalf("decision on hit %s: delivered %v, want %v", id, ok, i%2 == 0)
		}
		if ok && d < h {
			t.Fatalf("decision on hit %s delivered before the hit", id)
		}
	}
	if c := tn2.Health().Checks["webhook"]; c.Status != "ok" {
		t.Fatalf("health once delivered: %+v", c)
	}
	resp, err := tn2.scrape()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) != 1 {
			t.Fatalf("metric %s missing", name)
		}
		m := f.GetMetric()[0]
		return m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	// This process (after the restart) delivered every event; every third answer was lost.
	if d, f := value("fedarms_webhook_delivered_total"), value("fedarms_webhook_failures_total"); d != float64(want) || f < float64(repeats) {
		t.Errorf("delivered %v failures %v, want %d and at least %d", d, f, want, repeats)
	}
	if q, o := value("fedarms_webhook_queue"), value("fedarms_webhook_oldest_seconds"); q != 0 || o != 0 {
		t.Errorf("queue %v oldest %v once delivered", q, o)
	}
	t.Logf("%d events taken once each in %d requests (%d repeats dropped by id)", taken, requests, repeats)
}

func TestWebhookRefusesAShortSecret(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, []byte("too-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Notify.Webhook = &config.Webhook{URL: "https://ncb.example/events", SecretFile: secretFile}
	n, err := Open(cfg, Options{})
	if err == nil {
		n.Close()
		t.Fatal("a node opened with a 9-byte webhook secret")
	}
	if !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("refusal %v does not say why", err)
	}
}
