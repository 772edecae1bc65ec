package node

import (
	"net/http"

	"github.com/fedarms/fedarms/internal/auth"
)

func (n *Node) handleMembers(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"members": n.Members()})
	return nil
}

type faultRequest struct {
	Action string `json:"action"` // isolate, rejoin, cut, heal, heal_all
	Peer   string `json:"peer"`   // member name (for cut and heal: the other end; for isolate: optional, default this node)
}

// handleFaults drives the transport's fault switch, for drills and tests only: it exists only when
// federation.test_faults is set. Isolate cuts this node off from every other member while it keeps
// serving its own API; cut cuts it off from one member.
func (n *Node) handleFaults(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if n.fed == nil || n.fed.faults == nil {
		return errf(404, "not_found", "the fault switch is off (federation.test_faults)")
	}
	var req faultRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		return err
	}
	f := n.fed.faults
	self := n.fed.id.ID
	other := self
	if req.Peer != "" {
		e, ok := n.fed.roster.ByName(req.Peer)
		if !ok {
			return &apiError{Status: 400, Code: "invalid_field", Field: "peer", Message: "no member named " + req.Peer}
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
		return &apiError{Status: 400, Code: "invalid_field", Field: "action", Message: "action must be isolate, rejoin, cut, heal or heal_all"}
	}
	n.log.Warn("fault switch", "action", req.Action, "peer", req.Peer)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
