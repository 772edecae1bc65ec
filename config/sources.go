package config

import (
	"fmt"
	"slices"
	"sort"
)

// `[replication] sources` maps a shard to the members this node takes it from, in order:
//
//	[replication]
//	sources = { europe = ["ncb-fr", "ncb-fr-2"] }
//
// Such a shard is held outside its raft group: the node pulls committed entries from the first
// source that answers, verified against checkpoints signed by a central voter, and falls back to
// a central node when none does. A central node holds every shard as a voter and takes none.

// maxSources bounds the list per shard: each one that is away costs a timeout before the next.
const maxSources = 8

// FedShards lists the shards this node takes from other holders, sorted.
func (r Replication) FedShards() []string {
	out := make([]string, 0, len(r.Sources))
	for s := range r.Sources {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func (c *Config) validateSources() []Problem {
	var ps []Problem
	if len(c.Replication.Sources) == 0 {
		return nil
	}
	if c.Role == RoleCentral {
		return []Problem{{Field: "replication.sources", Message: "a central node holds every shard as a voter; it takes none from another holder"}}
	}
	held := c.Held(c.ShardMapFull())
	for _, shard := range c.Replication.FedShards() {
		srcs := c.Replication.Sources[shard]
		field := "replication.sources." + shard
		if !slices.Contains(held, shard) {
			ps = append(ps, Problem{Field: field, Value: shard, Message: "is not a shard this node holds (shards)"})
		}
		if len(srcs) == 0 || len(srcs) > maxSources {
			ps = append(ps, Problem{Field: field, Message: fmt.Sprintf("must list 1 to %d members", maxSources)})
		}
		seen := map[string]bool{}
		for _, s := range srcs {
			switch {
			case !nameRE.MatchString(s):
				ps = append(ps, Problem{Field: field, Value: s, Message: "is not a member name"})
			case s == c.Name:
				ps = append(ps, Problem{Field: field, Value: s, Message: "is this node"})
			case seen[s]:
				ps = append(ps, Problem{Field: field, Value: s, Message: "is listed twice"})
			}
			seen[s] = true
		}
	}
	return ps
}
