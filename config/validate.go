package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/reference"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (c *Config) validate() []Problem {
	var ps []Problem
	bad := func(field, value, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Value: value, Message: fmt.Sprintf(format, args...)})
	}
	if c.Version != Version {
		bad("version", fmt.Sprint(c.Version), "must be %d", Version)
	}
	if !nameRE.MatchString(c.Name) {
		bad("name", c.Name, "must be 1-63 of a-z 0-9 - starting with a letter or digit")
	}
	switch c.Role {
	case RoleCentral:
		if c.Country != "" {
			if _, ok := reference.Country(c.Country); !ok {
				bad("country", c.Country, "is not an ISO 3166-1 alpha-2 country code")
			}
		}
	case RoleNCB, RoleEdge:
		if _, ok := reference.Country(c.Country); !ok {
			bad("country", c.Country, "a %s node needs the ISO 3166-1 alpha-2 code of its country", c.Role)
		}
	default:
		bad("role", c.Role, "must be one of central, ncb, edge")
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", c.DataDir, "is required")
	}
	if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", c.HTTPAddr, "must be host:port")
	} else if !c.TLS.Enabled() && !c.TLS.AllowPlaintext && !IsLoopback(host) {
		bad("http_addr", c.HTTPAddr, "is not a loopback address and the API has no certificate: bearer tokens would cross the network in clear; "+
			"set tls.cert_file and tls.key_file (fedarms federation cert), or tls.allow_plaintext = true")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", c.TLS.CertFile+" "+c.TLS.KeyFile, "cert_file and key_file go together")
	}
	shards := map[string]bool{}
	for _, s := range c.ShardMapFull().Shards() {
		shards[s] = true
	}
	if len(c.Shards) == 0 {
		bad("shards", "", "must name at least one shard, or \"*\" for all")
	}
	for i, s := range c.Shards {
		if s != "*" && !shards[s] {
			bad(fmt.Sprintf("shards[%d]", i), s, "unknown shard (known: %s)", strings.Join(c.ShardMapFull().Shards(), ", "))
		}
	}
	for country, shard := range c.ShardMap {
		if _, ok := reference.Country(country); !ok {
			bad("shard_map."+country, country, "is not an ISO 3166-1 alpha-2 country code")
		}
		if !nameRE.MatchString(shard) {
			bad("shard_map."+country, shard, "shard names are 1-63 of a-z 0-9 -")
		}
	}
	if c.MaxStaleness.Duration <= 0 {
		bad("max_staleness", c.MaxStaleness.String(), "must be positive")
	}
	if c.Raft.SnapshotThreshold == 0 {
		bad("raft.snapshot_threshold", "0", "must be positive")
	}
	if c.Raft.ApplyBatch < 1 || c.Raft.ApplyBatch > 100000 {
		bad("raft.apply_batch", fmt.Sprint(c.Raft.ApplyBatch), "must be between 1 and 100000")
	}
	if c.Storage.PassphraseFile != "" && c.Storage.Credential != "" {
		bad("storage.credential", c.Storage.Credential, "set storage.passphrase_file or storage.credential, not both")
	}
	if c.Storage.Plain && (c.Storage.PassphraseFile != "" || c.Storage.Credential != "") {
		bad("storage.plain", "true", "a plain data dir has no key to seal; remove storage.plain or the passphrase/credential")
	}
	if c.Audit.Durability != "sync" && c.Audit.Durability != "async" {
		bad("audit.durability", c.Audit.Durability, "must be sync or async")
	}
	if c.Limits.MaxBodyBytes < 1024 {
		bad("limits.max_body_bytes", fmt.Sprint(c.Limits.MaxBodyBytes), "must be at least 1024")
	}
	if c.Limits.MaxImportBytes < c.Limits.MaxBodyBytes {
		bad("limits.max_import_bytes", fmt.Sprint(c.Limits.MaxImportBytes), "must be at least limits.max_body_bytes")
	}
	if c.Limits.MaxSearchLimit < 1 {
		bad("limits.max_search_limit", fmt.Sprint(c.Limits.MaxSearchLimit), "must be positive")
	}
	if c.Limits.MinFreeBytes < 0 {
		bad("limits.min_free_bytes", fmt.Sprint(c.Limits.MinFreeBytes), "must be 0 (no floor) or more")
	}
	for _, d := range []struct {
		field string
		v     Duration
	}{{"limits.read_timeout", c.Limits.ReadTimeout}, {"limits.write_timeout", c.Limits.WriteTimeout},
		{"limits.idle_timeout", c.Limits.IdleTimeout}, {"limits.stream_idle_timeout", c.Limits.StreamIdleTimeout}} {
		if d.v.Duration < time.Second {
			bad(d.field, d.v.String(), "must be at least 1s")
		}
	}
	if c.Limits.MaxHeaderBytes < 4096 {
		bad("limits.max_header_bytes", fmt.Sprint(c.Limits.MaxHeaderBytes), "must be at least 4096")
	}
	if c.Limits.MaxConns < 1 {
		bad("limits.max_conns", fmt.Sprint(c.Limits.MaxConns), "must be positive")
	}
	if c.Limits.MaxConnsPerClient < 1 || c.Limits.MaxConnsPerClient > c.Limits.MaxConns {
		bad("limits.max_conns_per_client", fmt.Sprint(c.Limits.MaxConnsPerClient), "must be between 1 and limits.max_conns")
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"limits.searches_per_hour", c.Limits.SearchesPerHour}, {"limits.searches_per_day", c.Limits.SearchesPerDay},
		{"limits.records_per_hour", c.Limits.RecordsPerHour}, {"limits.records_per_day", c.Limits.RecordsPerDay}} {
		if l.v == 0 || l.v < -1 {
			bad(l.key, fmt.Sprint(l.v), "must be a positive count, or -1 for no limit")
		}
	}
	if f := c.Federation; f != nil {
		// An edge behind NAT may listen nowhere: it dials out and is reached through the central
		// nodes' relays.
		if len(f.Listen) == 0 && c.Role != RoleEdge {
			bad("federation.listen", "", "needs at least one libp2p multiaddr, e.g. /ip4/0.0.0.0/tcp/4001 (only an edge may listen nowhere)")
		}
		for i, a := range f.Listen {
			if !strings.HasPrefix(a, "/ip4/") && !strings.HasPrefix(a, "/ip6/") && !strings.HasPrefix(a, "/dns") {
				bad(fmt.Sprintf("federation.listen[%d]", i), a, "must be a multiaddr like /ip4/0.0.0.0/tcp/4001")
			}
		}
		if f.RootPub == "" {
			bad("federation.root_pub", "", "is required (the federation's root public key)")
		}
		if f.RosterFile == "" {
			bad("federation.roster_file", "", "is required (the signed roster entries)")
		}
	}
	if c.Notify.Routine.Duration <= 0 || c.Notify.Urgent.Duration <= 0 || c.Notify.LateWindow.Duration <= 0 {
		bad("notify", "", "routine_deadline, urgent_deadline and late_window must be positive")
	}
	if c.Notify.LateMaxSearches < 0 || c.Notify.LateMaxSearches > 10_000_000 {
		bad("notify.late_max_searches", fmt.Sprint(c.Notify.LateMaxSearches), "must be between 0 and 10000000")
	}
	if c.Notify.Webhook != nil {
		c.Notify.Webhook.validate(c.Role, bad)
	}
	c.Retention.validate(bad)
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", c.Log.Format, "must be text or json")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	ps = append(ps, c.Replication.validate()...)
	ps = append(ps, c.validateSources()...)
	return ps
}

// IsLoopback says whether host (of a host:port) names only this machine: a loopback IP or
// "localhost". An empty host listens on every address, so it is not.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
