package node

import (
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/auth"
)

// ShardStatus is one shard as GET /v1/shards reports it.
type ShardStatus struct {
	Shard        string    `json:"shard"`
	Role         string    `json:"role"`
	Leader       string    `json:"leader"`
	AppliedIndex uint64    `json:"applied_index"`
	Records      uint64    `json:"records"`
	Digest       string    `json:"digest"`
	LastContact  time.Time `json:"last_contact,omitzero"`
	Stale        bool      `json:"stale"`
	// Halted says why the shard stopped applying entries on this node (empty while it applies);
	// the copy is then stale, reads are served from it and writes go elsewhere.
	Halted      string    `json:"halted,omitempty"`
	HaltedSince time.Time `json:"halted_since,omitzero"`
}

// Shards reports every shard this node holds.
func (n *Node) Shards() []ShardStatus {
	out := make([]ShardStatus, 0, len(n.held))
	for _, s := range n.held {
		st := n.groups[s].Status()
		ss := ShardStatus{Shard: s, Role: st.Role, Leader: st.Leader, AppliedIndex: st.AppliedIndex,
			Records: st.Records, Digest: st.Digest.String(), LastContact: st.LastContact.UTC(),
			Stale: n.stale(st.LastContact, st.Halt != nil)}
		if st.Halt != nil {
			ss.Halted, ss.HaltedSince = st.Halt.Reason, st.Halt.Since.UTC()
		}
		out = append(out, ss)
	}
	return out
}

func (n *Node) handleShards(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"shards": n.Shards(), "stale_after_seconds": n.staleAfterSeconds()})
	return nil
}

type healthCheck struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Health is the answer to GET /v1/health.
type Health struct {
	Status  string                 `json:"status"` // ok or degraded
	Node    string                 `json:"node"`
	Role    string                 `json:"role"`
	Version string                 `json:"version"`
	Uptime  int64                  `json:"uptime_s"`
	Records int                    `json:"records"`
	Checks  map[string]healthCheck `json:"checks"`
}

// Health checks every subsystem.
func (n *Node) Health() Health {
	h := Health{Status: "ok", Node: n.cfg.Name, Role: n.cfg.Role, Version: Version,
		Uptime: int64(n.since(n.start).Seconds()), Records: n.index.Len(), Checks: map[string]healthCheck{}}
	for _, s := range n.Shards() {
		c := healthCheck{Status: "ok"}
		switch {
		case s.Halted != "":
			c = healthCheck{Status: "degraded", Detail: "halted: " + s.Halted + "; reads are served from the copy as it was, writes go to other nodes"}
		case s.Leader == "":
			c = healthCheck{Status: "degraded", Detail: "no leader: writes to this shard are refused"}
		case s.Stale:
			c = healthCheck{Status: "degraded", Detail: "copy is older than max_staleness"}
		}
		if c.Status != "ok" {
			h.Status = "degraded"
		}
		h.Checks["shard:"+s.Shard] = c
	}
	if n.fed != nil && n.fed.control != nil {
		h.Checks["control"] = healthCheck{Status: "ok"}
		if halt, ok := n.fed.control.Halted(); ok {
			h.Status = "degraded"
			h.Checks["control"] = healthCheck{Status: "degraded", Detail: "halted since " + halt.Since.UTC().Format(time.RFC3339) +
				": " + halt.Reason + "; admissions and revocations wait until the write succeeds"}
		}
	}
	h.Checks["disk"] = healthCheck{Status: "ok"}
	if msg, low := n.diskLow(); low {
		h.Status = "degraded"
		h.Checks["disk"] = healthCheck{Status: "degraded", Detail: msg + ": record writes are refused"}
	}
	h.Checks["node_db"] = healthCheck{Status: "ok"}
	if err := n.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		h.Status = "degraded"
		h.Checks["node_db"] = healthCheck{Status: "degraded", Detail: err.Error()}
	}
	return h
}

// handleHealth answers 200 with the status in the body, degraded or not, so a monitor can always
// read why.
func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.Health())
}
