package config

import (
	"sort"

	"github.com/fedarms/fedarms/internal/reference"
)

// ShardMap assigns each recording country to a shard. A shard is the unit of replication: one raft
// group per shard.
type ShardMap struct {
	byCountry map[string]string
	shards    []string
}

// ShardMapFull returns the shard map in force: one shard per INTERPOL region, with the config's
// shard_map overrides applied.
func (c *Config) ShardMapFull() ShardMap {
	m := ShardMap{byCountry: make(map[string]string, 256)}
	for _, ci := range reference.Countries() {
		m.byCountry[ci.Code] = ci.Region
	}
	for country, shard := range c.ShardMap {
		m.byCountry[country] = shard
	}
	seen := map[string]bool{}
	for _, s := range m.byCountry {
		if !seen[s] {
			seen[s] = true
			m.shards = append(m.shards, s)
		}
	}
	sort.Strings(m.shards)
	return m
}

// Shard returns the shard that holds records of a recording country.
func (m ShardMap) Shard(country string) (string, bool) {
	s, ok := m.byCountry[country]
	return s, ok
}

// Shards lists every shard, sorted.
func (m ShardMap) Shards() []string { return m.shards }

// Held returns the shards a node with this config holds, sorted.
func (c *Config) Held(m ShardMap) []string {
	for _, s := range c.Shards {
		if s == "*" {
			return m.Shards()
		}
	}
	out := append([]string(nil), c.Shards...)
	sort.Strings(out)
	return out
}
