package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWebhookConfig(t *testing.T) {
	base := "version = 1\nname = \"ncb-fr\"\nrole = \"ncb\"\ncountry = \"FR\"\nhttp_addr = \"127.0.0.1:8080\"\n"
	for _, c := range []struct {
		conf, field string // field: the one refused, "" for a valid config
	}{
		{"[notify.webhook]\nurl = \"https://ncb.example/ev\"\nsecret_file = \"/etc/s\"\ntimeout = \"3s\"", ""},
		{"[notify.webhook]\nurl = \"ftp://ncb.example/ev\"\nsecret_file = \"/etc/s\"", "notify.webhook.url"},
		{"[notify.webhook]\nurl = \"https://ncb.example/ev\"", "notify.webhook.secret_file"},
		{"[notify.webhook]\nurl = \"https://ncb.example/ev\"\nsecret_file = \"/etc/s\"\nsecret = \"x\"", "notify.webhook.secret"},
	} {
		cfg, err := Parse(strings.NewReader(base + c.conf))
		if c.field == "" {
			if err != nil || cfg.Notify.Webhook == nil || cfg.Notify.Webhook.PostTimeout() != 3*time.Second {
				t.Errorf("%q: %v", c.conf, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%q: %v, want %s refused", c.conf, err, c.field)
		}
	}
	edge := strings.Replace(base, `"ncb"`, `"edge"`, 1) + "[notify.webhook]\nurl = \"https://x.example/\"\nsecret_file = \"/etc/s\""
	if _, err := Parse(strings.NewReader(edge)); err == nil || !strings.Contains(err.Error(), "edge node keeps no inbox") {
		t.Errorf("a webhook on an edge node: %v", err)
	}
	if cfg, _ := Parse(strings.NewReader(base)); cfg.Notify.Webhook != nil {
		t.Errorf("a webhook without the section: %+v", cfg.Notify.Webhook)
	}
}

func TestWebhookSecretIsAtLeast16Bytes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content string
		ok      bool
	}{
		{"0123456789abcdef\n", true},
		{"0123456789abcde\n", false}, // 15 bytes and the newline, which is not part of it
		{"", false},
	} {
		p := filepath.Join(dir, "secret")
		if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := (&Webhook{SecretFile: p}).Secret()
		if (err == nil) != c.ok || (c.ok && string(s) != strings.TrimSpace(c.content)) {
			t.Errorf("%q: %q %v, want ok=%v", c.content, s, err, c.ok)
		}
	}
	if _, err := (&Webhook{SecretFile: filepath.Join(dir, "missing")}).Secret(); err == nil {
		t.Error("a missing secret file was read")
	}
}
