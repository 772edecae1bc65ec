package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"time"
)

// Webhook is where a node pushes the hits and decisions on its inbox ([notify.webhook]): a central
// node the General Secretariat's, an NCB node its country's. Each event is POSTed as JSON, signed
// with HMAC-SHA256 under the secret, and retried until the receiver answers 2xx.
type Webhook struct {
	// URL receives the POSTs (https in production; redirects are not followed).
	URL string `toml:"url"`
	// SecretFile holds the HMAC key, at least MinWebhookSecret bytes (a trailing newline is not
	// part of it). A file, so a systemd credential can hold it.
	SecretFile string `toml:"secret_file"`
	// Timeout bounds one POST, answer included (default 10s).
	Timeout Duration `toml:"timeout"`
}

// MinWebhookSecret is the shortest HMAC key a node accepts, in bytes.
const MinWebhookSecret = 16

// DefaultWebhookTimeout bounds one POST when timeout is not set.
const DefaultWebhookTimeout = 10 * time.Second

// PostTimeout is Timeout, or its default.
func (w *Webhook) PostTimeout() time.Duration {
	if w.Timeout.Duration <= 0 {
		return DefaultWebhookTimeout
	}
	return w.Timeout.Duration
}

// Secret reads the HMAC key from SecretFile and refuses one shorter than MinWebhookSecret bytes.
func (w *Webhook) Secret() ([]byte, error) {
	raw, err := os.ReadFile(w.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("notify.webhook.secret_file: %w", err)
	}
	secret := bytes.TrimRight(raw, "\r\n")
	if len(secret) < MinWebhookSecret {
		return nil, fmt.Errorf("notify.webhook.secret_file %s: the secret is %d bytes, want at least %d", w.SecretFile, len(secret), MinWebhookSecret)
	}
	return secret, nil
}

func (w *Webhook) validate(role string, bad func(field, value, format string, args ...any)) {
	if role == RoleEdge {
		bad("notify.webhook", w.URL, "an edge node keeps no inbox: set the webhook on the NCB's or the central nodes")
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("notify.webhook.url", w.URL, "must be an http or https URL")
	}
	if w.SecretFile == "" {
		bad("notify.webhook.secret_file", "", "is required (a file holding the HMAC key, at least %d bytes)", MinWebhookSecret)
	}
	if w.Timeout.Duration < 0 {
		bad("notify.webhook.timeout", w.Timeout.String(), "must not be negative")
	}
}
