package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	c, err := Parse(strings.NewReader(`
version = 1
name = "edge-cdg"
role = "edge"
country = "FR"
data_dir = "/var/lib/fedarms"
http_addr = "0.0.0.0:8080"
shards = ["europe", "africa"]
max_staleness = "2h"
[raft]
apply_batch = 500
[limits]
min_free_bytes = 1073741824
[tls]
cert_file = "tls.crt"
key_file = "tls.key"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "edge-cdg" || c.MaxStaleness.Hours() != 2 || c.Raft.ApplyBatch != 500 || c.Raft.TrailingLogs != Default().Raft.TrailingLogs ||
		c.Limits.MinFreeBytes != 1<<30 {
		t.Fatalf("unexpected config %+v", c)
	}
	if got := c.Held(c.ShardMapFull()); strings.Join(got, ",") != "africa,europe" {
		t.Fatalf("held %v", got)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse(strings.NewReader(`
version = 2
name = "Bad Name"
role = "edge"
country = "XX"
colour = "blue"
shards = ["europe", "atlantis"]
max_staleness = "-1s"
[audit]
durability = "maybe"
[raft]
snapshot_treshold = 10
[limits]
min_free_bytes = -1
`))
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want *Problems, got %v", err)
	}
	want := map[string]string{
		"version": "2", "name": "Bad Name", "country": "XX", "colour": "", "shards[1]": "atlantis",
		"max_staleness": "-1s", "audit.durability": "maybe", "raft.snapshot_treshold": "",
		"limits.min_free_bytes": "-1",
	}
	got := map[string]string{}
	for _, p := range ps.List {
		got[p.Field] = p.Value
	}
	for f, v := range want {
		gv, ok := got[f]
		if !ok || gv != v {
			t.Errorf("problem for %s: got %q (present %v), want value %q\n%v", f, gv, ok, v, err)
		}
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse(strings.NewReader("version = \nname="))
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Fatalf("want a syntax error naming the line, got %v", err)
	}
}

func TestDefaultIsValid(t *testing.T) {
	if ps := Default().validate(); len(ps) > 0 {
		t.Fatalf("defaults invalid: %v", ps)
	}
}

func TestShardMapDefaultsAndOverrides(t *testing.T) {
	c := Default()
	m := c.ShardMapFull()
	if s, _ := m.Shard("FR"); s != "europe" {
		t.Fatalf("FR -> %s", s)
	}
	if len(m.Shards()) != 5 {
		t.Fatalf("shards %v", m.Shards())
	}
	c.ShardMap = map[string]string{"US": "north-america"}
	m = c.ShardMapFull()
	if s, _ := m.Shard("US"); s != "north-america" {
		t.Fatalf("US -> %s", s)
	}
}

// TestPlaintextOffLoopback: before, any http_addr served plain HTTP (issue 17: bearer tokens crossed
// the site's network in clear). Now a non-loopback address needs a certificate or an explicit
// allow_plaintext, and the problem names the field and the value.
func TestPlaintextOffLoopback(t *testing.T) {
	base := "version = 1\nname = \"edge-cdg\"\nrole = \"edge\"\ncountry = \"FR\"\n"
	for _, c := range []struct {
		conf string
		ok   bool
	}{
		{`http_addr = "0.0.0.0:8080"`, false},
		{`http_addr = ":8080"`, false},
		{`http_addr = "192.0.2.10:8080"`, false},
		{`http_addr = "127.0.0.1:8080"`, true},
		{`http_addr = "[::1]:8080"`, true},
		{`http_addr = "localhost:8080"`, true},
		{"http_addr = \"0.0.0.0:8080\"\n[tls]\nallow_plaintext = true", true},
		{"http_addr = \"0.0.0.0:8080\"\n[tls]\ncert_file = \"a.crt\"\nkey_file = \"a.key\"", true},
		{"http_addr = \"127.0.0.1:8080\"\n[tls]\ncert_file = \"a.crt\"", false},
	} {
		_, err := Parse(strings.NewReader(base + c.conf))
		if (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok=%v", c.conf, err, c.ok)
		}
		if err != nil && !c.ok && strings.Contains(c.conf, "0.0.0.0") && !strings.Contains(err.Error(), `http_addr: is not a loopback address`) {
			t.Errorf("%q: %v does not name http_addr", c.conf, err)
		}
	}
}

func TestRetentionGrace(t *testing.T) {
	for _, c := range []struct {
		toml string
		want time.Duration
		ok   bool
	}{
		{"", 90 * 24 * time.Hour, true},
		{"[retention]\ngrace = \"30d\"\n", 30 * 24 * time.Hour, true},
		{"[retention]\ngrace = \"2160h\"\n", 90 * 24 * time.Hour, true},
		{"[retention]\ngrace = \"0\"\n", 0, true},
		{"[retention]\ngrace = \"-1h\"\n", 0, false},
		{"[retention]\ngrace = \"99999d\"\n", 0, false},
		{"[retention]\ngrace = \"ninety\"\n", 0, false},
	} {
		cfg, err := Parse(strings.NewReader("version = 1\n" + c.toml))
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v, want ok=%v", c.toml, err, c.ok)
			continue
		}
		if c.ok && cfg.Retention.Grace.Duration != c.want {
			t.Errorf("%q: grace %v, want %v", c.toml, cfg.Retention.Grace.Duration, c.want)
		}
	}
}
