package node

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
)

// A member's request that breaks the rules of its role (raft from a non-voter, a write for another
// country, a forged message, an oversized frame) is refused and leaves three traces: a warning in the
// log, a count in fedarms_peer_refusals_total{protocol,reason}, and an audit entry naming the member
// (action "peer.refused"). A hostile member can send many such requests, so the log and the audit
// keep at most one per member, protocol and reason a minute; the counter counts every one.

// refusalQuiet is how long a repeated refusal (same member, protocol and reason) stays out of the
// log and the audit after the first.
const refusalQuiet = time.Minute

// refusals remembers when each kind of refusal was last logged.
type refusals struct {
	mu   sync.Mutex // guards last
	last map[string]time.Time
}

// refused records that the member behind from was refused on proto for reason (a short stable
// token such as "not_voter" or "bad_signature"); detail says what exactly was wrong.
func (n *Node) refused(from peer.ID, proto, reason string, detail error) {
	n.met.refusals.WithLabelValues(proto, reason).Inc()
	name := from.String()
	if n.fed != nil {
		if e, ok := n.fed.roster.Get(from); ok {
			name = e.Name
		}
	}
	key := name + "\x00" + proto + "\x00" + reason
	now := n.now()
	n.refusal.mu.Lock()
	if n.refusal.last == nil {
		n.refusal.last = map[string]time.Time{}
	}
	quiet := now.Sub(n.refusal.last[key]) < refusalQuiet
	if !quiet {
		n.refusal.last[key] = now
	}
	n.refusal.mu.Unlock()
	if quiet {
		return
	}
	msg := ""
	if detail != nil {
		msg = detail.Error()
	}
	n.log.Warn("refused a member's request", "member", name, "peer", from, "protocol", proto, "reason", reason, "detail", msg)
	q, _ := json.Marshal(map[string]string{"peer": from.String(), "protocol": proto, "detail": msg})
	n.audit.Append(audit.Entry{Agency: "member:" + name, Action: "peer.refused", Query: q, Outcome: reason})
}
