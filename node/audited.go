package node

import (
	"context"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/wire"
)

// A change (a record written or deleted, an import, a token made or revoked, a member admitted or
// revoked) is acknowledged only once its audit entry is durable: the caller waits for the entry's
// group commit, so a crash cannot leave an acknowledged change without its entry. Where the change
// and the entry share node.db (hits, decisions) they are committed in one transaction instead
// (audit.Log.AppendWith).

// auditDurably appends e and waits until it is durable. The error says that the change itself was
// made: only its audit entry is in doubt.
func (n *Node) auditDurably(ctx context.Context, e audit.Entry) error {
	return auditWait(ctx, e.Action, n.audit.Append(e))
}

func auditWait(ctx context.Context, action string, p audit.Pending) error {
	if _, err := p.Wait(ctx); err != nil {
		return wire.Errorf(wire.Unavailable, "audit_unavailable", "%s was done, but its audit entry is not known to be durable: %v", action, err)
	}
	return nil
}
