package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// A trace travels as whole copies: the origin sends the request to each recipient, and a node
// where an NCB answers (or the requester closes) sends its copy to the others. A receiver takes
// from a copy only what its sender may say: the request itself only from its origin (or with the
// origin's signature, which every copy carries), each answer only from an NCB node of the answer's
// country that the trace names (or with that node's signature), a close only from the origin or a
// central node. Fields fixed at the request are this node's own once it holds the trace.

// receiveTrace stores a trace (or merges a newer copy of it) delivered by another member.
func (n *Node) receiveTrace(ctx context.Context, from transport.Entry, m *message) (any, error) {
	t := m.Trace
	if t == nil || t.ID == "" || len(t.ID) > 256 || t.Origin == "" {
		return nil, refuse(wire.Invalid, "malformed", "a trace needs an id and an origin")
	}
	base, err := n.hits.GetTrace(t.ID)
	known := err == nil
	if err != nil && !errors.Is(err, notify.ErrNotFound) {
		return nil, err
	}
	origin := t.Origin
	if known {
		origin = base.Origin // what the request fixed is this node's own once it holds the trace
	}
	if (m.Role == "origin" && origin != n.cfg.Name) || (m.Role != "origin" && !n.playsTrace(m.Role)) {
		return nil, refuse(wire.Invalid, "not_recipient", "%s does not stand for %s of trace %s", n.cfg.Name, m.Role, t.ID)
	}
	if !known {
		if r := n.checkTraceRequest(from, t); r != nil {
			return nil, r
		}
		base = *t
		base.Answers, base.Status = nil, notify.TraceOpen
	}
	in := *t
	in.Answers = nil
	for i := range t.Answers {
		a := &t.Answers[i]
		if slices.ContainsFunc(base.Answers, func(old notify.TraceAnswer) bool { return old.Country == a.Country && old.At.Equal(a.At) }) {
			continue
		}
		r := n.checkAnswer(from, &base, a)
		switch {
		case r == nil:
			in.Answers = append(in.Answers, *a)
		case a.Sig == nil && from.Role == transport.RoleNCB && slices.Contains(base.Recipients, "ncb:"+from.Country):
			// A recipient NCB of an older release relays the answers it holds unsigned: the
			// answer is left out and recorded, its copy is taken.
			n.refused(from.PeerID, transport.ProtoMessage, r.reason, r.err)
		default:
			return nil, r
		}
	}
	if t.Status == notify.TraceClosed && base.Status != notify.TraceClosed && from.Name != base.Origin && from.Role != transport.RoleCentral {
		return nil, refuse(wire.Forbidden, "not_requester", "%s (%s) is neither the origin %s nor central: it does not close trace %s", from.Name, from.Role, base.Origin, t.ID)
	}
	var at time.Time
	if n.viaInbox(m.Role) {
		var o notify.InboxOutcome
		o, err = n.toInbox(ctx, notify.InboxItem{Kind: notify.InboxTrace, Trace: &in})
		at = o.StoredAt
	} else {
		at, err = n.hits.ReceiveTrace(in, m.Role)
	}
	if err != nil {
		return nil, err
	}
	n.audit.Append(audit.Entry{Agency: "member:" + from.Name, Action: "trace.received", ResultIDs: []string{t.ID}, Outcome: "ok"})
	return messageAnswer{StoredAt: at}, nil
}

// checkTraceRequest checks a trace this node does not hold yet: it must come from its origin, or
// show the origin's signature, and name only known recipients.
func (n *Node) checkTraceRequest(from transport.Entry, t *notify.Trace) *msgRefusal {
	if t.Origin == n.cfg.Name {
		return refuse(wire.Forbidden, "wrong_sender", "trace %s names %s as its origin, which holds no such trace", t.ID, n.cfg.Name)
	}
	for _, rc := range t.Recipients {
		if c, ok := strings.CutPrefix(rc, "ncb:"); rc != "gs" && (!ok || !isCountry(c)) {
			return refuse(wire.Invalid, "malformed", "trace %s: recipient %q", t.ID, rc)
		}
	}
	if from.Name == t.Origin {
		return nil
	}
	if _, err := n.signedBy(t.OriginSig, func(pub notify.Verifier) error { return notify.VerifyTrace(pub, t) }); err != nil {
		return sigRefusal(err, "wrong_sender", "trace "+t.ID+" of "+t.Origin)
	}
	return nil
}

// checkAnswer checks an answer this node does not hold yet: for a country the trace names, from an
// NCB node of that country or with its signature.
func (n *Node) checkAnswer(from transport.Entry, t *notify.Trace, a *notify.TraceAnswer) *msgRefusal {
	rc := "ncb:" + a.Country
	if a.Country == "" || !slices.Contains(t.Recipients, rc) {
		return refuse(wire.Forbidden, "not_recipient", "answer to trace %s for %q, which the trace was not sent to", t.ID, a.Country)
	}
	if standsFor(from, rc) {
		return nil
	}
	signer, err := n.signedBy(a.Sig, func(pub notify.Verifier) error { return notify.VerifyAnswer(pub, t.ID, a) })
	switch {
	case errors.Is(err, notify.ErrUnsigned):
		return refuse(wire.Forbidden, "not_recipient", "%s (%s) does not answer trace %s for %s", from.Name, from.Role, t.ID, a.Country)
	case err != nil:
		return sigRefusal(err, "not_recipient", "answer to trace "+t.ID)
	case !standsFor(signer, rc):
		return refuse(wire.Forbidden, "not_recipient", "answer to trace %s for %s signed by %s, no NCB node of %s", t.ID, a.Country, signer.Name, a.Country)
	}
	return nil
}

// traceCopy is what this node sends of t: the origin's signature (made now for a trace requested
// before signatures existed), every signed answer and this node's own answers signed, and neither
// receipts nor pending copies, which are each node's own. An unsigned answer of another node (from
// before signatures existed) is left out: receivers could not tell it from a forgery.
func (n *Node) traceCopy(t *notify.Trace) *notify.Trace {
	c := *t
	c.Receipts, c.SendTo, c.Answers = nil, nil, nil
	if c.OriginSig == nil && c.Origin == n.cfg.Name {
		if sig, err := notify.SignTrace(n.signer(), &c); err == nil {
			c.OriginSig = sig
		}
	}
	for _, a := range t.Answers {
		if a.Sig == nil {
			if n.cfg.Role != "ncb" || a.Country != n.cfg.Country {
				continue
			}
			sig, err := notify.SignAnswer(n.signer(), n.cfg.Name, t.ID, &a)
			if err != nil {
				continue
			}
			a.Sig = sig
		}
		c.Answers = append(c.Answers, a)
	}
	return &c
}
