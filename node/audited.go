package node

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/wire"
)

// A change (a record written or deleted, an import, a token made or revoked, a member admitted or
// revoked) is acknowledged only once its audit entry is durable: the caller waits for the entry's
// group commit, so a crash cannot leave an acknowledged change without its entry. Where the change
// and the entry share node.db (hits, decisions, trace requests, answers and closes) they are
// committed in one transaction instead (audit.Log.AppendWith, changeAudited).

// auditDurably appends e and waits until it is durable. The error says that the change itself was
// made: only its audit entry is in doubt.
func (n *Node) auditDurably(ctx context.Context, e audit.Entry) error {
	return auditWait(ctx, e.Action, n.audit.Append(e))
}

// changeAudited makes change and appends e in one node.db transaction, so the change is never
// stored without its audit entry nor the entry without it, and waits until both are durable. A
// change that fails writes neither and its error comes back as changeErr; err says the
// transaction itself failed (then nothing was made either).
func (n *Node) changeAudited(ctx context.Context, e audit.Entry, change func(*bolt.Tx) error) (changeErr, err error) {
	_, err = n.audit.AppendWith(e, func(tx *bolt.Tx) error {
		if changeErr = change(tx); changeErr != nil {
			return fmt.Errorf("%w: %w", audit.ErrDeclined, changeErr)
		}
		return nil
	}).Wait(context.WithoutCancel(ctx))
	if changeErr != nil {
		return changeErr, nil
	}
	if err != nil {
		return nil, wire.Errorf(wire.Unavailable, "audit_unavailable", "%s was not done: its audit entry could not be committed: %v", e.Action, err)
	}
	return nil, nil
}

func auditWait(ctx context.Context, action string, p audit.Pending) error {
	if _, err := p.Wait(ctx); err != nil {
		return wire.Errorf(wire.Unavailable, "audit_unavailable", "%s was done, but its audit entry is not known to be durable: %v", action, err)
	}
	return nil
}
