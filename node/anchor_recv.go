package node

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// receiveAnchor takes a member's signed audit head to the GS inbox. The anchor must bear the
// signature of the node it names, whoever hands it over: a member cannot anchor another's chain.
func (n *Node) receiveAnchor(ctx context.Context, from transport.Entry, m *message) (any, error) {
	if n.fed.inbox == nil {
		return nil, wire.Errorf(wire.Unavailable, "unavailable", "%s keeps no GS inbox", n.cfg.Name).Retry(1)
	}
	a := m.Anchor
	if a == nil {
		return nil, refuse(wire.Invalid, "malformed", "anchor missing")
	}
	if err := a.Validate(); err != nil {
		return nil, refuse(wire.Invalid, "malformed", "%w", err)
	}
	if _, err := n.signedBy(a.Sig, func(pub notify.Verifier) error { return notify.VerifyAnchor(pub, a) }); err != nil {
		return nil, sigRefusal(err, "unsigned", fmt.Sprintf("anchor of %s at seq %d from %s", a.Node, a.Seq, from.Name))
	}
	if err := n.commitAnchor(ctx, *a); err != nil {
		return nil, err
	}
	return messageAnswer{StoredAt: n.now().UTC()}, nil
}

// receiveAnchors answers a page of a node's anchors, after seq m.After: to the node itself (to
// check its chain online) and to central nodes (which also ask to learn that this release keeps
// anchors).
func (n *Node) receiveAnchors(from transport.Entry, m *message) (any, error) {
	if from.Name != m.Node && from.Role != transport.RoleCentral {
		return nil, refuse(wire.Forbidden, "wrong_sender", "%s asks for the anchors of %s", from.Name, m.Node)
	}
	if n.fed.inbox == nil {
		return nil, wire.Errorf(wire.Unavailable, "unavailable", "%s keeps no GS inbox", n.cfg.Name).Retry(1)
	}
	all, err := n.hits.Anchors(m.Node)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(all), func(i int) bool { return all[i].Seq > m.After })
	page := all[i:min(len(all), i+anchorPage)]
	return messageAnswer{StoredAt: n.now().UTC(), Anchors: page}, nil
}

// AuditAnchors lists the anchors of node that the central nodes keep (GET /v1/audit/anchors),
// oldest first; only a central node holds them.
func (n *Node) AuditAnchors(node string) ([]notify.Anchor, error) {
	if n.fed == nil || n.fed.inbox == nil {
		return nil, wire.Errorf(wire.NotFound, "not_central", "%s is no central node: ask a central node for anchors", n.cfg.Name)
	}
	if node == "" {
		return nil, wire.FieldError("node", "node: name the member whose anchors to list")
	}
	as, err := n.hits.Anchors(node)
	if as == nil {
		as = []notify.Anchor{}
	}
	return as, err
}

// VerifyAudit checks this node's audit chain, and, in a federation, against the heads it anchored
// at the central nodes (GET /v1/audit/verify). Anchors that cannot be fetched are a problem of
// the report: the chain cannot then be shown to match them.
func (n *Node) VerifyAudit() (audit.Report, error) {
	if n.fed == nil {
		return n.audit.Verify()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	as, err := n.centralAnchors(ctx, n.cfg.Name)
	if err != nil {
		rep, verr := n.audit.Verify()
		if verr != nil {
			return rep, verr
		}
		rep.Problems = append(rep.Problems, audit.Problem{Kind: audit.KindAnchorsUnavailable,
			Detail: fmt.Sprintf("no central node answered with this node's anchors: %v", err)})
		return rep, nil
	}
	return n.audit.VerifyAnchored(auditAnchors(as))
}
