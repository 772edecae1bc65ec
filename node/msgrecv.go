package node

import (
	"context"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// serveMessages stores hits, receipts, decisions and traces delivered by other members, each only
// from a member that may send it (msgsig.go).
func (n *Node) serveMessages() error {
	return serve(n.fed, transport.ProtoMessage, func(ctx context.Context, from peer.ID, m *message) (any, error) {
		e, ok := n.fed.roster.Get(from)
		if !ok {
			return nil, wire.Errorf(wire.Forbidden, "forbidden", "peer %s is not a member", from)
		}
		var ans any
		var err error
		switch m.Kind {
		case "hit":
			ans, err = n.receiveHit(ctx, e, m)
		case "carry":
			ans, err = n.receiveCarry(e, m)
		case "receipt":
			ans, err = n.receiveReceipt(e, m)
		case "decision":
			ans, err = n.receiveDecision(ctx, e, m)
		case "trace":
			ans, err = n.receiveTrace(ctx, e, m)
		case "inbox":
			ans, err = n.receiveInbox(ctx, e, m)
		case "anchor":
			ans, err = n.receiveAnchor(ctx, e, m)
		case "anchors":
			ans, err = n.receiveAnchors(e, m)
		default:
			err = refuse(wire.Invalid, "malformed", "unknown message kind %q", m.Kind)
		}
		if r, ok := errors.AsType[*msgRefusal](err); ok {
			return nil, n.refusedMsg(from, r)
		}
		return ans, err
	})
}

// checkHit is what every hit from another member must pass, whoever sends it: well formed, not
// naming this node as its origin (this node's hits are made here, never received), for a
// recipient role.
func (n *Node) checkHit(m *message) *msgRefusal {
	if m.Hit == nil {
		return refuse(wire.Invalid, "malformed", "hit missing")
	}
	if err := m.Hit.Validate(); err != nil {
		return refuse(wire.Invalid, "malformed", "%w", err)
	}
	if m.Hit.Origin == n.cfg.Name {
		return refuse(wire.Forbidden, "wrong_sender", "hit %s names %s as its origin, which never receives its own hits", m.Hit.ID, n.cfg.Name)
	}
	if m.Role != notify.RoleGS && m.Role != notify.RoleNCB {
		return refuse(wire.Invalid, "malformed", "role %q: want gs or ncb", m.Role)
	}
	return nil
}

// verifyHitSig checks the origin's signature over a hit sent by someone other than its origin.
func (n *Node) verifyHitSig(h *notify.Hit, sig *notify.Signature, unsignedReason string) *msgRefusal {
	if _, err := n.signedBy(sig, func(pub notify.Verifier) error { return notify.VerifyHit(pub, h, sig) }); err != nil {
		return sigRefusal(err, unsignedReason, "hit "+h.ID+" of "+h.Origin)
	}
	return nil
}

// receiveHit stores a hit for a role this node plays: from its origin, or from a carrier with the
// origin's signature (answered with this node's signed receipt, for the carrier to take back).
func (n *Node) receiveHit(ctx context.Context, from transport.Entry, m *message) (any, error) {
	if r := n.checkHit(m); r != nil {
		return nil, r
	}
	h := m.Hit
	if !n.playsRole(m.Role, h) {
		return nil, refuse(wire.Invalid, "not_recipient", "%s does not play %s for hit %s", n.cfg.Name, m.Role, h.ID)
	}
	carried := from.Name != h.Origin
	sig := m.Sig
	if carried {
		if r := n.verifyHitSig(h, m.Sig, "wrong_sender"); r != nil {
			return nil, r
		}
	} else if sig != nil && n.verifyHitSig(h, sig, "unsigned") != nil {
		sig = nil // from its origin, which needs no signature; a bad one is not handed on
	}
	if from.Role == transport.RoleNCB && from.Country == h.RecordingCountry {
		sig = nil // handed on by a sibling, which handed it to every other sibling
	}
	at, err := n.storeAs(ctx, *h, m.Role, sig)
	if err != nil {
		return nil, err
	}
	n.audit.Append(audit.Entry{Agency: "member:" + from.Name, Action: "hit.received", ResultIDs: []string{h.ID, h.RecordID}, Outcome: "ok"})
	ans := messageAnswer{StoredAt: at}
	if carried {
		// The origin will hear of this receipt through the carrier, so it must prove who stored it.
		if ans.Receipt, err = notify.SignReceipt(n.signer(), n.cfg.Name, h.ID, m.Role, at); err != nil {
			return nil, err
		}
	}
	return ans, nil
}

// receiveCarry stores a hit to deliver for its origin. It must bear the origin's signature, so that
// the recipients can tell it from a hit the carrier made up.
func (n *Node) receiveCarry(from transport.Entry, m *message) (any, error) {
	if r := n.checkHit(m); r != nil {
		return nil, r
	}
	if r := n.verifyHitSig(m.Hit, m.Sig, "unsigned"); r != nil {
		return nil, r
	}
	if err := n.hits.Carry(*m.Hit, m.Role, m.Sig); err != nil {
		return nil, err
	}
	n.kickDelivery()
	return messageAnswer{StoredAt: n.now().UTC()}, nil
}

// receiveReceipt records that a recipient stored one of this node's hits: sent by that recipient,
// or carried back with its signature. The recipient must play the role for the hit as stored here.
func (n *Node) receiveReceipt(from transport.Entry, m *message) (any, error) {
	if m.HitID == "" || m.StoredAt.IsZero() || (m.Role != notify.RoleGS && m.Role != notify.RoleNCB) {
		return nil, refuse(wire.Invalid, "malformed", "a receipt needs hit_id, stored_at and a role of gs or ncb")
	}
	h, err := n.hits.Get(m.HitID)
	if errors.Is(err, notify.ErrNotFound) || (err == nil && h.Origin != n.cfg.Name) {
		return nil, refuse(wire.Forbidden, "not_origin", "%s did not make hit %s", n.cfg.Name, m.HitID)
	}
	if err != nil {
		return nil, err
	}
	if !playsFor(from, m.Role, h.RecordingCountry) {
		signer, err := n.signedBy(m.Sig, func(pub notify.Verifier) error {
			return notify.VerifyReceipt(pub, m.Sig, h.ID, m.Role, m.StoredAt)
		})
		switch {
		case errors.Is(err, notify.ErrUnsigned):
			return nil, refuse(wire.Forbidden, "not_recipient", "%s does not play %s for hit %s and shows no recipient's receipt", from.Name, m.Role, h.ID)
		case err != nil:
			return nil, sigRefusal(err, "not_recipient", "receipt for hit "+h.ID)
		case !playsFor(signer, m.Role, h.RecordingCountry):
			return nil, refuse(wire.Forbidden, "not_recipient", "receipt for hit %s signed by %s, which does not play %s for it", h.ID, signer.Name, m.Role)
		}
	}
	if err := n.hits.SetReceipt(h.ID, m.Role, m.StoredAt); err != nil {
		return nil, err
	}
	return messageAnswer{StoredAt: n.now().UTC()}, nil
}

// receiveDecision applies a decision on a hit this node holds, from a node that may decide on it:
// the sender itself, or the member whose signature it shows. decided_via names that member.
func (n *Node) receiveDecision(ctx context.Context, from transport.Entry, m *message) (any, error) {
	if m.Decision == nil {
		return nil, refuse(wire.Invalid, "malformed", "decision missing")
	}
	d := *m.Decision
	if err := d.Validate(); err != nil {
		return nil, refuse(wire.Invalid, "malformed", "%w", err)
	}
	h, err := n.hits.Get(d.HitID)
	if errors.Is(err, notify.ErrNotFound) {
		return nil, wire.Errorf(wire.Unavailable, "unavailable", "hit %s is not here yet", d.HitID) // it may be on its way: retried
	}
	if err != nil {
		return nil, err
	}
	author := from
	if !mayDecide(from, h.RecordingCountry) {
		signer, err := n.signedBy(m.Sig, func(pub notify.Verifier) error { return notify.VerifyDecision(pub, m.Sig, &d) })
		switch {
		case errors.Is(err, notify.ErrUnsigned):
			return nil, refuse(wire.Forbidden, "wrong_sender", "%s (%s) decides on no hit of %s", from.Name, from.Role, h.RecordingCountry)
		case err != nil:
			return nil, sigRefusal(err, "wrong_sender", "decision on hit "+h.ID)
		case !mayDecide(signer, h.RecordingCountry):
			return nil, refuse(wire.Forbidden, "wrong_sender", "decision on hit %s signed by %s, which decides on no hit of %s", h.ID, signer.Name, h.RecordingCountry)
		}
		author = signer
	}
	d.DecidedVia = author.Name
	ans := messageAnswer{StoredAt: n.now().UTC()}
	if m.Role == notify.RoleGS && n.fed.inbox != nil {
		// The GS inbox is the arbiter: the first decision committed there is the one in force
		// everywhere, and the sender learns which one that is.
		o, err := n.toInbox(ctx, notify.InboxItem{Kind: notify.InboxDecision, Decision: &d})
		if err != nil {
			return nil, err
		}
		ans.Decision = o.Winner
		outcome := d.Decision
		if o.Winner != nil && o.Winner.Decision != d.Decision {
			outcome = "refused: already " + o.Winner.Decision
		}
		n.audit.Append(audit.Entry{Agency: "member:" + from.Name, Action: "hit.decision.received", ResultIDs: []string{d.HitID}, Outcome: outcome})
		return ans, nil
	}
	if err := n.hits.ReceiveDecision(d); err != nil {
		return nil, err
	}
	n.audit.Append(audit.Entry{Agency: "member:" + from.Name, Action: "hit.decision.received", ResultIDs: []string{d.HitID}, Outcome: d.Decision})
	return ans, nil
}

// storeAs stores h as its recipient role here: for the GS, in the GS inbox (committed on a quorum
// of the central nodes); for the NCB, in this node's store, queued for the NCB's other nodes when
// it is new here and sig, the origin's signature, lets them take it.
func (n *Node) storeAs(ctx context.Context, h notify.Hit, role string, sig *notify.Signature) (time.Time, error) {
	if role == notify.RoleGS && n.fed != nil && n.fed.inbox != nil {
		o, err := n.toInbox(ctx, inboxItemOfHit(&h))
		return o.StoredAt, err
	}
	var siblings []string
	if role == notify.RoleNCB && sig != nil {
		siblings = n.siblings(h.RecordingCountry)
	}
	at, err := n.hits.ReceiveFanOut(h, role, sig, siblings)
	if err == nil && len(siblings) > 0 {
		n.kickDelivery()
	}
	return at, err
}

// siblings are the other nodes of this node's NCB, when it is an NCB node of country.
func (n *Node) siblings(country string) []string {
	if n.fed == nil || n.cfg.Role != "ncb" || n.cfg.Country != country {
		return nil
	}
	return n.ncbNodes(country)
}

// ncbNodes are the nodes of country's NCB other than this one: where a decision taken here goes
// besides the origin (an admin may decide at a central node).
func (n *Node) ncbNodes(country string) []string {
	if n.fed == nil {
		return nil
	}
	var out []string
	for _, e := range n.fed.roster.List() {
		if e.Role == transport.RoleNCB && e.Country == country && e.PeerID != n.fed.id.ID {
			out = append(out, e.Name)
		}
	}
	return out
}
