package node

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/notify"
)

// The webhook pushes the events queued in node.db (notify/webhook.go) to a national system: one
// at a time from the head, so a hit's decision never overtakes it; an event is deleted once the
// receiver answers 2xx and tried again otherwise, after 1 s doubling to a minute. The receiver
// drops a repeat by the event's id (a 2xx lost on the way brings one).

// Webhook headers.
const (
	HeaderWebhookTimestamp = "X-Fedarms-Timestamp"
	HeaderWebhookSignature = "X-Fedarms-Signature"
)

const (
	webhookBackoffMin = time.Second
	webhookBackoffMax = time.Minute
)

// WebhookSignature is the signature header's value for body sent at unix second ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func WebhookSignature(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhook sends the queue to one URL.
type webhook struct {
	url    string
	shown  string // url without a password, for logs
	secret []byte
	client *http.Client
	store  *notify.Store
	clock  clock.Clock
	log    *slog.Logger

	delivered, failures prometheus.Counter
	queue, oldest       prometheus.GaugeFunc

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex // guards what follows, read by health and metrics
	headKey   string
	headSince time.Time // when the sender first saw the event at the head; zero when the queue is empty
	lastErr   string
	errSince  time.Time // first failure of the current run of failures; zero after a success
}

// newWebhook reads the secret and sets the queue's scope: every hit on a central node (the GS
// inbox), the country's hits on an NCB node.
func newWebhook(cfg *config.Config, store *notify.Store, c clock.Clock, log *slog.Logger) (*webhook, error) {
	wc := cfg.Notify.Webhook
	secret, err := wc.Secret()
	if err != nil {
		return nil, err
	}
	scope := notify.WebhookAll
	if cfg.Role == config.RoleNCB {
		scope = cfg.Country
	}
	if err := store.SetWebhookScope(scope); err != nil {
		return nil, fmt.Errorf("webhook scope: %w", err)
	}
	shown := wc.URL
	if u, err := url.Parse(wc.URL); err == nil {
		shown = u.Redacted()
	}
	w := &webhook{url: wc.URL, shown: shown, secret: secret, store: store, clock: c, log: log, done: make(chan struct{}),
		client: &http.Client{Timeout: wc.PostTimeout(),
			// A signed event goes where it was configured to, and nowhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.delivered = prometheus.NewCounter(prometheus.CounterOpts{Name: "fedarms_webhook_delivered_total",
		Help: "Hit and decision events the webhook receiver took (answered 2xx)."})
	w.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "fedarms_webhook_failures_total",
		Help: "Webhook POSTs that failed (no answer, or not 2xx); each is tried again."})
	w.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fedarms_webhook_queue",
		Help: "Events waiting for the webhook receiver."}, func() float64 {
		q, _ := store.WebhookQueue()
		return float64(q)
	})
	w.oldest = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fedarms_webhook_oldest_seconds",
		Help: "How long the event at the head of the webhook queue has waited since it was first tried; 0 when empty."},
		func() float64 { return w.oldestAge().Seconds() })
	return w, nil
}

func (w *webhook) collectors() []prometheus.Collector {
	return []prometheus.Collector{w.delivered, w.failures, w.queue, w.oldest, w.droppedCollector()}
}

func (w *webhook) droppedCollector() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "fedarms_webhook_dropped_total",
		Help: "Webhook events not queued because the queue was full; the receiver never gets them."}, func() float64 {
		_, d := w.store.WebhookQueue()
		return float64(d)
	})
}

func (w *webhook) start() { go w.run() }

// stop ends the sender and waits for it; what is queued stays in node.db for the next start.
func (w *webhook) stop() {
	w.cancel()
	<-w.done
}

func (w *webhook) run() {
	defer close(w.done)
	backoff := time.Duration(0)
	for {
		key, body, ok, err := w.store.WebhookHead()
		if err == nil && !ok {
			w.mu.Lock()
			w.headSince = time.Time{}
			w.mu.Unlock()
			select {
			case <-w.ctx.Done():
				return
			case <-w.store.WebhookQueued():
			}
			continue
		}
		if err != nil {
			err = fmt.Errorf("read the queue: %w", err)
		} else if err = w.send(key, body); err == nil {
			backoff = 0
			continue
		}
		if w.ctx.Err() != nil {
			return
		}
		w.failures.Inc()
		w.failed(err)
		backoff = min(max(2*backoff, webhookBackoffMin), webhookBackoffMax)
		select {
		case <-w.ctx.Done():
			return
		case <-w.clock.After(backoff):
		}
	}
}

// send delivers the head event at key and deletes it. On a failure it records when the head was
// first tried, once, so its age survives a restart.
func (w *webhook) send(key, body []byte) error {
	w.mu.Lock()
	if w.headSince.IsZero() || w.headKey != string(key) {
		w.headKey, w.headSince = string(key), w.clock.Now()
		if at, ok := w.store.WebhookSince(key); ok && at.Before(w.headSince) {
			w.headSince = at // stuck on it before a restart
		}
	}
	since := w.headSince
	w.mu.Unlock()
	err := w.post(body)
	if err == nil {
		if err = w.store.WebhookDone(key); err == nil {
			w.delivered.Inc()
			w.recovered()
			return nil
		}
		return fmt.Errorf("delete the delivered event: %w", err)
	}
	if _, ok := w.store.WebhookSince(key); !ok && w.ctx.Err() == nil {
		if serr := w.store.SetWebhookSince(key, since); serr != nil {
			w.log.Warn("recording when the webhook's head was first tried", "error", serr)
		}
	}
	return err
}

// recovered clears the failure shown in health once the receiver takes an event again.
func (w *webhook) recovered() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.errSince.IsZero() {
		w.log.Info("webhook receiver takes events again", "url", w.shown, "failing_for", w.clock.Now().Sub(w.errSince).String())
	}
	w.lastErr, w.errSince = "", time.Time{}
}

func (w *webhook) failed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.errSince.IsZero() {
		w.errSince = w.clock.Now()
		w.log.Warn("webhook receiver did not take an event; retrying with backoff", "url", w.shown, "error", err)
	}
	w.lastErr = err.Error()
}

// post sends one event, signed over the time it leaves.
func (w *webhook) post(body []byte) error {
	ts := strconv.FormatInt(w.clock.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fedarms/"+Version)
	req.Header.Set(HeaderWebhookTimestamp, ts)
	req.Header.Set(HeaderWebhookSignature, WebhookSignature(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook receiver answered %s", resp.Status)
	}
	return nil
}

func (w *webhook) oldestAge() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.headSince.IsZero() {
		return 0
	}
	return max(w.clock.Now().Sub(w.headSince), 0)
}

// health is the webhook's check: degraded while the receiver does not take events, with the last
// error, how long it has failed and what waits.
func (w *webhook) health() (status, detail string) {
	queued, dropped := w.store.WebhookQueue()
	w.mu.Lock()
	lastErr, since := w.lastErr, w.errSince
	w.mu.Unlock()
	status = "ok"
	if lastErr != "" {
		status = "degraded"
		detail = fmt.Sprintf("failing since %s: %s; %d event(s) queued", since.UTC().Format(time.RFC3339), lastErr, queued)
	}
	if dropped > 0 { // only a long failure fills the queue, so the status is degraded already
		if detail != "" {
			detail += "; "
		}
		detail += fmt.Sprintf("%d event(s) dropped: the queue was full", dropped)
	}
	return status, detail
}

// openWebhook starts the sender when [notify.webhook] is set; without it, nothing more is queued.
func (n *Node) openWebhook() error {
	if n.cfg.Notify.Webhook == nil {
		return n.hits.SetWebhookScope("")
	}
	w, err := newWebhook(n.cfg, n.hits, n.clock, n.log.With("subsystem", "webhook"))
	if err != nil {
		return err
	}
	n.met.reg.MustRegister(w.collectors()...)
	n.webhook = w
	w.start()
	return nil
}
