package node

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// A revoked member learns of its revocation from its copy of the control group; but the members
// that apply the revocation cut it off at once, often before the entry reaches it. So the node
// that orders a revocation first hands the signed revocation to the member itself, directly
// (best effort, before ordering it): the member checks the root key's signature and destroys its
// data (atrest.go). A release without this ignores the field and refuses the empty command.

// noticeTimeout bounds the wait for a revoked member that is slow or gone.
const noticeTimeout = 3 * time.Second

// tellRevoked hands sr to the member it revokes, if it is connected. Not to a central member: its
// removal may still be refused (guardCentral) after this, so it learns only from the control group,
// once the removal is committed.
func (n *Node) tellRevoked(ctx context.Context, sr transport.SignedRevocation) {
	id := sr.Revocation.PeerID
	if e, ok := n.fed.roster.Get(id); !ok || e.Role == transport.RoleCentral || id == n.fed.id.ID || !n.fed.host.Connected(id) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, noticeTimeout)
	defer cancel()
	var res struct{}
	if err := n.fed.call(ctx, id, transport.ProtoControl, controlRequest{Revoked: &sr}, &res); err != nil {
		n.log.Warn("the revoked member did not take its revocation; it learns it from the control group if it ever reaches it",
			"subsystem", "control", "member", sr.Revocation.Name, "error", err)
	}
}

// heardRevoked takes a revocation handed to this node by another member: if the root key signed
// it and it names this node, the node destroys its data.
func (n *Node) heardRevoked(from peer.ID, sr transport.SignedRevocation) (any, error) {
	if err := transport.VerifyRevocation(n.fed.roster.RootPub(), sr); err != nil {
		err = wire.Errorf(wire.Invalid, "bad_signature", "revocation: %v", err)
		n.refused(from, transport.ProtoControl, "bad_signature", err)
		return nil, err
	}
	if sr.Revocation.PeerID != n.fed.id.ID {
		return nil, wire.Errorf(wire.Invalid, "not_me", "the revocation names %s, not this node", sr.Revocation.PeerID)
	}
	n.log.Error("a member handed this node its signed revocation", "subsystem", "control", "from", from)
	select {
	case n.fed.selfRevoked <- struct{}{}:
	default:
	}
	return struct{}{}, nil
}
