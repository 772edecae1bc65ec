package node

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/node/wire"
)

// Shards reports every shard this node holds.
func (n *Node) Shards() []wire.ShardStatus {
	held := n.allHeld()
	out := make([]wire.ShardStatus, 0, len(held))
	for _, s := range held {
		c := n.copies[s]
		st := c.Status()
		ss := wire.ShardStatus{Shard: s, Role: st.Role, Leader: st.Leader, AppliedIndex: st.AppliedIndex,
			Records: st.Records, Digest: st.Digest.String(), LastContact: st.LastContact.UTC(),
			Stale: n.stale(st.LastContact, st.Halt != nil)}
		if fc, ok := c.(interface{ Source() (string, time.Time) }); ok {
			ss.Source, _ = fc.Source() // a fed holder: the member it takes the shard from now
		} else if st.Leader != n.cfg.Name {
			ss.Source = st.Leader // a raft member takes the shard from its leader
		}
		if st.Halt != nil {
			ss.Halted, ss.HaltedSince = st.Halt.Reason, st.Halt.Since.UTC()
			if st.Halt.DivergedTo != 0 {
				ss.DivergedFrom, ss.DivergedTo = st.Halt.Index, st.Halt.DivergedTo
			}
			if f := int(st.Halt.NeedsCommandFormat); f != 0 {
				ss.NeedsCommandFormat, ss.NeedsRelease = f, n.readers.reading(f)
			}
		}
		out = append(out, ss)
	}
	return out
}

// Health checks every subsystem.
func (n *Node) Health() wire.Health {
	h := wire.Health{Status: "ok", Node: n.cfg.Name, Role: n.cfg.Role, Version: Version,
		Uptime: int64(n.since(n.start).Seconds()), Records: n.index.Len(), Checks: map[string]wire.HealthCheck{}}
	for _, s := range n.Shards() {
		c := wire.HealthCheck{Status: "ok"}
		switch {
		case s.Halted != "":
			c = wire.HealthCheck{Status: "degraded", Detail: "halted: " + s.Halted + "; reads are served from the copy as it was, writes go to other nodes"}
			if s.NeedsCommandFormat != 0 {
				c.Detail += fmt.Sprintf("; needs a release that reads raft command format %d", s.NeedsCommandFormat)
				if s.NeedsRelease != "" {
					c.Detail += " (members run " + s.NeedsRelease + ")"
				}
			}
		case s.Role == "fed" && s.Source == "":
			c = wire.HealthCheck{Status: "degraded", Detail: "fed holder: no source answers (sources dropped or away)"}
		case s.Leader == "" && s.Role != "fed":
			c = wire.HealthCheck{Status: "degraded", Detail: "no leader: writes to this shard are refused"}
		case s.Stale:
			c = wire.HealthCheck{Status: "degraded", Detail: "copy is older than max_staleness"}
		}
		if c.Status != "ok" {
			h.Status = "degraded"
		}
		h.Checks["shard:"+s.Shard] = c
	}
	if n.fed != nil && n.fed.control != nil {
		h.Checks["control"] = wire.HealthCheck{Status: "ok"}
		if halt, ok := n.fed.control.Halted(); ok {
			h.Status = "degraded"
			h.Checks["control"] = wire.HealthCheck{Status: "degraded", Detail: "halted since " + halt.Since.UTC().Format(time.RFC3339) +
				": " + halt.Reason + "; admissions and revocations wait until the write succeeds"}
		}
	}
	h.Checks["disk"] = wire.HealthCheck{Status: "ok"}
	if msg, low := n.diskLow(); low {
		h.Status = "degraded"
		h.Checks["disk"] = wire.HealthCheck{Status: "degraded", Detail: msg + ": record writes are refused"}
	}
	h.Checks["tls"] = n.tlsHealth()
	h.Checks["at_rest"] = n.atRestHealth()
	if h.Checks["tls"].Status != "ok" {
		h.Status = "degraded"
	}
	if n.webhook != nil {
		status, detail := n.webhook.health()
		h.Checks["webhook"] = wire.HealthCheck{Status: status, Detail: detail}
		if status != "ok" {
			h.Status = "degraded"
		}
	}
	h.Checks["node_db"] = wire.HealthCheck{Status: "ok"}
	if err := n.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		h.Status = "degraded"
		h.Checks["node_db"] = wire.HealthCheck{Status: "degraded", Detail: err.Error()}
	}
	return h
}
