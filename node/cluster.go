package node

import (
	"github.com/fedarms/fedarms/node/wire"
)

// Fault drives the transport's fault switch (POST /v1/debug/faults), for drills and tests only: it
// exists only when federation.test_faults is set. Isolate cuts this node off from every other
// member while it keeps serving its own API; cut cuts it off from one member.
func (n *Node) Fault(req wire.FaultRequest) error {
	if n.fed == nil || n.fed.faults == nil {
		return wire.Errorf(wire.NotFound, "not_found", "the fault switch is off (federation.test_faults)")
	}
	f := n.fed.faults
	self := n.fed.id.ID
	other := self
	if req.Peer != "" {
		e, ok := n.fed.roster.ByName(req.Peer)
		if !ok {
			return wire.FieldError("peer", "no member named "+req.Peer)
		}
		other = e.PeerID
	}
	switch req.Action {
	case "isolate":
		f.Isolate(other)
	case "rejoin":
		f.Rejoin(other)
	case "cut":
		f.Cut(self, other)
	case "heal":
		f.Heal(self, other)
	case "heal_all":
		f.HealAll()
	default:
		return wire.FieldError("action", "action must be isolate, rejoin, cut, heal or heal_all")
	}
	n.log.Warn("fault switch", "action", req.Action, "peer", req.Peer)
	return nil
}
