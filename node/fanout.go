package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/node/notify"
)

// siblingRole prefixes the name of another node of this NCB in the decisions to deliver
// ("node:ncb-fr-2"): each node of an NCB gets the decision in force.
const siblingRole = "node:"

// deliverHit sends h to its recipients of role: for the GS, through the GS inbox on a central node
// (its own hit) or to a central node elsewhere; for the NCB, to one of its nodes, which hands it to
// the others. Each copy sent carries the origin's signature, so the NCB node that stores it can
// hand it on to its siblings (older receivers ignore it: a hit from its origin needs none).
func (n *Node) deliverHit(h *notify.Hit, role string) (messageAnswer, error) {
	if role == notify.RoleGS && n.fed.inbox != nil {
		o, err := n.toInbox(context.Background(), inboxItemOfHit(h))
		return messageAnswer{StoredAt: o.StoredAt}, err
	}
	sig, err := notify.SignHit(n.signer(), h)
	if err != nil {
		n.log.Error("signing a hit", "hit", h.ID, "error", err)
		sig = nil
	}
	return n.send(role, h.RecordingCountry, message{Kind: "hit", Role: role, Hit: h, Sig: sig})
}

// deliverFanout hands the hits this NCB node stored first to the NCB's other nodes. A sibling
// that refuses one (403) will never take it: it is dropped; the sibling no longer in the roster
// too.
func (n *Node) deliverFanout() {
	items, err := n.hits.FanoutItems()
	if err != nil {
		n.log.Error("reading hits to hand to the NCB's other nodes", "error", err)
		return
	}
	for _, f := range items {
		key := "fanout/" + f.Hit.ID + "/" + f.To
		if !n.deliver.due(key) {
			continue
		}
		e, ok := n.fed.roster.ByName(f.To)
		if !ok {
			_ = n.hits.FanoutDone(f.Hit.ID, f.To)
			continue
		}
		h := f.Hit
		_, err := n.sendTo([]peer.ID{e.PeerID}, message{Kind: "hit", Role: notify.RoleNCB, Hit: &h, Sig: f.Sig})
		if err != nil && !refusedBy(err) {
			n.deliver.failed(key)
			continue
		}
		if err != nil {
			n.log.Warn("the NCB's other node refused a hit handed on", "hit", h.ID, "to", f.To, "error", err)
		}
		n.deliver.done(key)
		_ = n.hits.FanoutDone(h.ID, f.To)
	}
}
