package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// controlRequest is a control write forwarded to the control group's leader.
type controlRequest struct {
	Command replication.ControlCommand `json:"command"`
	Hops    int                        `json:"hops"`
	// Force lets the removal of a central member leave fewer than three voters (guardCentral).
	Force bool `json:"force,omitempty"`
	// Revoked hands a member its own signed revocation (revoke_notice.go); no command goes with it.
	Revoked *transport.SignedRevocation `json:"revoked,omitempty"`
}

// controlApply orders a control command: here when this node leads the control group, otherwise on
// the leader over libp2p. It returns once the command is committed and applied here too, so the
// writer's next roster read shows it.
//
// A change of central members is checked on the leader first (guardCentral); force is carried to
// it.
func (n *Node) controlApply(ctx context.Context, cmd replication.ControlCommand, force bool) (replication.ControlResult, error) {
	c := n.fed.control
	var res replication.ControlResult
	err := retryForward(ctx, func() (bool, error) {
		switch target, ok := n.controlTarget(); {
		case c.IsLeader():
			if err := n.guardCentral(cmd, force); err != nil {
				return true, err
			}
			var err error
			res, err = c.Apply(ctx, cmd)
			if errors.Is(err, replication.ErrNotLeader) {
				return false, err
			}
			return true, controlError(err)
		case !ok:
			return false, fmt.Errorf("control: %w", replication.ErrNotLeader)
		default:
			if err := n.fed.call(ctx, target, transport.ProtoControl, controlRequest{Command: cmd, Force: force}, &res); err != nil {
				return !retriable(err), err
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = c.WaitApplied(wctx, res.Index) // committed either way
			cancel()
			return true, nil
		}
	})
	return res, err
}

// controlTarget is the peer to send a control write to: the leader when known, else a central node.
func (n *Node) controlTarget() (peer.ID, bool) {
	leader, _ := n.fed.control.Leader()
	return n.fed.forwardTarget(leader)
}

// serveControl takes control writes forwarded by other members. Any member may forward: what it
// carries is signed by the root key, and the leader and every replica verify it. An admission is
// also checked against the roster in force here (checkAdmission), which knows the roster file's
// entries too: a member replaying an older entry of its own is refused at the first node it
// reaches, and counted against it.
func (n *Node) serveControl() error {
	return serve(n.fed, transport.ProtoControl, func(ctx context.Context, from peer.ID, req *controlRequest) (any, error) {
		if !n.fed.roster.Has(from) {
			return nil, wire.Errorf(wire.Forbidden, "forbidden", "peer %s is not a member", from)
		}
		if e, _ := n.fed.roster.Get(from); req.Command.Op == replication.ControlFinalize && e.Role != transport.RoleCentral {
			// An operator finalizes at a central node; no other member may order it.
			err := wire.Errorf(wire.Forbidden, "forbidden", "member %s may not finalize an upgrade", e.Name)
			n.refused(from, transport.ProtoControl, "forbidden", err)
			return nil, err
		}
		if req.Revoked != nil {
			return n.heardRevoked(from, *req.Revoked)
		}
		res, err := n.serveControlRequest(ctx, req)
		var ae *wire.Error
		if errors.As(err, &ae) && ae.Kind.CallerFault() && req.Hops == 0 {
			// Hops > 0: a central node forwarding; the member that sent it was counted there.
			n.refused(from, transport.ProtoControl, ae.Code, err)
		}
		return res, err
	})
}

func (n *Node) serveControlRequest(ctx context.Context, req *controlRequest) (any, error) {
	if req.Command.Op == replication.ControlAdmit {
		var se transport.SignedEntry
		if err := json.Unmarshal(req.Command.Blob, &se); err == nil {
			if err := n.checkAdmission(se); err != nil {
				return nil, controlError(err)
			}
		}
	}
	c := n.fed.control
	if !c.IsLeader() {
		if req.Hops > 0 {
			return nil, wire.Errorf(wire.Unavailable, "unavailable", "%s does not lead the control group", n.cfg.Name)
		}
		target, ok := n.controlTarget()
		if !ok {
			return nil, wire.Errorf(wire.Unavailable, "unavailable", "no leader known for the control group")
		}
		var res replication.ControlResult
		err := n.fed.call(ctx, target, transport.ProtoControl, controlRequest{Command: req.Command, Hops: req.Hops + 1, Force: req.Force}, &res)
		var re rpcError
		if err != nil && !errors.As(err, &re) {
			return nil, wire.Errorf(wire.Unavailable, "unavailable", "control leader unreachable from %s: %v", n.cfg.Name, err)
		}
		if err != nil {
			return nil, re.remote
		}
		return res, nil
	}
	if err := n.guardCentral(req.Command, req.Force); err != nil {
		return nil, err
	}
	res, err := c.Apply(ctx, req.Command)
	return res, controlError(err)
}

// checkAdmission is what this node knows against an admission beyond the control state: the
// entry must verify, be newer than the member's entry in force here (from the control group or
// the roster file), and keep names unique with the roster file's members too. A new central
// member is checked on the control leader (guardCentral), which sees every group's voters.
func (n *Node) checkAdmission(se transport.SignedEntry) error {
	if err := transport.VerifyEntry(n.fed.roster.RootPub(), se); err != nil {
		return err
	}
	if cur, ok := n.fed.roster.GetSigned(se.Entry.PeerID); ok && !sameSignedEntry(cur, se) && !se.Entry.Supersedes(cur.Entry) {
		return fmt.Errorf("admit %s (%s): serial %d, in force %d: %w", se.Entry.Name, se.Entry.PeerID, se.Entry.Serial, cur.Entry.Serial, transport.ErrStaleEntry)
	}
	// The control group does not know the roster file's names; this node does.
	if e, ok := n.fed.roster.ByName(se.Entry.Name); ok && e.PeerID != se.Entry.PeerID {
		hint := ""
		if e.Role == transport.RoleCentral {
			hint = fmt.Sprintf("; to replace central member %s by a new identity under its name, remove it first (fedarms federation remove %s)", e.Name, e.Name)
		}
		return fmt.Errorf("admit %s (%s): %w (%s)%s", se.Entry.Name, se.Entry.PeerID, replication.ErrNameInUse, e.PeerID, hint)
	}
	return nil
}

// sameSignedEntry reports whether a and b are the same signed entry (admitting it again changes
// nothing, so it is not stale).
func sameSignedEntry(a, b transport.SignedEntry) bool {
	ab, aerr := transport.CanonicalBytes(a.Entry)
	bb, berr := transport.CanonicalBytes(b.Entry)
	return aerr == nil && berr == nil && bytes.Equal(ab, bb) && bytes.Equal(a.Signature, b.Signature)
}

// controlError gives the control group's refusals their API shape; other errors pass through.
func controlError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, transport.ErrBadSignature), errors.Is(err, transport.ErrUnsigned),
		errors.Is(err, transport.ErrBadRevocationSignature):
		return wire.Errorf(wire.Invalid, "bad_signature", "%v", err)
	case errors.Is(err, replication.ErrControlRefused), errors.Is(err, transport.ErrInvalidEntry),
		errors.Is(err, transport.ErrInvalidRevocation):
		return wire.Errorf(wire.Invalid, "invalid_field", "%v", err)
	case errors.Is(err, replication.ErrStaleEntry), errors.Is(err, transport.ErrStaleEntry):
		return wire.Errorf(wire.Conflict, "stale_entry", "%v; sign a new entry (fedarms federation sign gives it a newer serial)", err)
	case errors.Is(err, replication.ErrPeerRevoked), errors.Is(err, replication.ErrNameInUse):
		return wire.Errorf(wire.Conflict, "conflict", "%v", err)
	}
	return err
}

func (n *Node) notFederated() error {
	return wire.Errorf(wire.Conflict, "not_federated", "%s runs a one-node federation: it has no roster", n.cfg.Name)
}

// Admit admits a member whose entry the root key signed, as p (POST /v1/federation/members).
func (n *Node) Admit(ctx context.Context, p auth.Principal, se transport.SignedEntry) (wire.RosterChange, error) {
	if n.fed == nil {
		return wire.RosterChange{}, n.notFederated()
	}
	blob, err := json.Marshal(se)
	if err != nil {
		return wire.RosterChange{}, err
	}
	err = n.checkAdmission(se)
	var res replication.ControlResult
	if err == nil {
		res, err = n.controlApply(ctx, replication.ControlCommand{Op: replication.ControlAdmit, Blob: blob}, false)
	}
	err = controlError(err)
	if err := n.auditControl(p, "federation.admit", blob, []string{se.Entry.PeerID.String(), se.Entry.Name}, err); err != nil {
		return wire.RosterChange{}, err
	}
	return wire.RosterChange{PeerID: res.PeerID, Name: res.Name, Index: res.Index, Changed: res.Changed}, nil
}

// Revoke revokes a member for good, as p (POST /v1/federation/revocations). A central member's
// revocation removes it from every group's voters and is checked like RemoveCentral without force.
func (n *Node) Revoke(ctx context.Context, p auth.Principal, sr transport.SignedRevocation) (wire.RosterChange, error) {
	return n.revoke(ctx, p, sr, false, "federation.revoke")
}

// RemoveCentral removes a central member, dead or alive, from every group and revokes it, as p
// (POST /v1/federation/central/removals). The control leader refuses it while another change of
// central members is in progress, when a group would keep fewer than three voters (unless
// force), and when it would keep fewer voters that answer than a majority. The group leaders then
// take it out of their groups; CentralStatus shows when that is done.
func (n *Node) RemoveCentral(ctx context.Context, p auth.Principal, rm wire.CentralRemoval) (wire.RosterChange, error) {
	if n.fed == nil {
		return wire.RosterChange{}, n.notFederated()
	}
	if e, ok := n.fed.roster.Get(rm.Revocation.Revocation.PeerID); ok && e.Role != transport.RoleCentral {
		err := wire.Errorf(wire.Invalid, "not_central", "%s is a member as %s, not a central member: revoke it (fedarms federation revoke)", e.Name, e.Role)
		n.auditControl(p, "federation.remove", nil, []string{rm.Revocation.Revocation.PeerID.String(), e.Name}, err)
		return wire.RosterChange{}, err
	}
	return n.revoke(ctx, p, rm.Revocation, rm.Force, "federation.remove")
}

func (n *Node) revoke(ctx context.Context, p auth.Principal, sr transport.SignedRevocation, force bool, action string) (wire.RosterChange, error) {
	if n.fed == nil {
		return wire.RosterChange{}, n.notFederated()
	}
	blob, err := json.Marshal(sr)
	if err != nil {
		return wire.RosterChange{}, err
	}
	var res replication.ControlResult
	if err = transport.VerifyRevocation(n.fed.roster.RootPub(), sr); err == nil {
		n.tellRevoked(ctx, sr)
		res, err = n.controlApply(ctx, replication.ControlCommand{Op: replication.ControlRevoke, Blob: blob}, force)
	}
	err = controlError(err)
	if err := n.auditControl(p, action, blob, []string{sr.Revocation.PeerID.String(), sr.Revocation.Name}, err); err != nil {
		return wire.RosterChange{}, err
	}
	name := res.Name
	if name == "" {
		name = sr.Revocation.Name
	}
	return wire.RosterChange{PeerID: res.PeerID, Name: name, Index: res.Index, Changed: res.Changed}, nil
}

// auditControl audits a roster change, and returns err, or the audit's own error when the change
// was made but its entry is not durable (audited.go).
func (n *Node) auditControl(p auth.Principal, action string, blob []byte, ids []string, err error) error {
	outcome := audit.OutcomeOK
	if err != nil {
		outcome = apiError(err).Code
	}
	aerr := n.auditDurably(context.Background(), audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: action,
		Query: blob, ResultIDs: ids, Outcome: outcome})
	if err != nil {
		return err
	}
	return aerr
}

// Roster reports the roster in force on this node and the revocations (GET
// /v1/federation/roster).
func (n *Node) Roster() (wire.RosterView, error) {
	view := wire.RosterView{Members: []wire.RosterMember{}, Revoked: []transport.SignedRevocation{}}
	if n.fed == nil {
		return view, nil
	}
	c := n.fed.control
	for _, e := range n.fed.roster.List() {
		se, ok := n.fed.roster.GetSigned(e.PeerID)
		if !ok {
			continue // revoked since List
		}
		m := wire.RosterMember{SignedEntry: se, Source: "file"}
		if _, ok := c.Member(e.PeerID.String()); ok {
			m.Source = "control"
		}
		view.Members = append(view.Members, m)
	}
	st := c.State()
	for _, r := range st.Revoked {
		var sr transport.SignedRevocation
		if err := json.Unmarshal(r.Blob, &sr); err != nil {
			return view, fmt.Errorf("revocation of %s in the control state: %w", r.PeerID, err)
		}
		view.Revoked = append(view.Revoked, sr)
	}
	view.AppliedIndex = st.AppliedIndex
	if id, _ := c.Leader(); id != "" {
		view.Leader = string(id)
	}
	return view, nil
}
