package replication

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A control snapshot arrives from the network (InstallSnapshot) or from this node's disk, and it
// carries the roster in force, so it gets no more trust than a log entry: restoring one verifies
// it entry by entry, as the FSM verifies every entry it applies. Revocations are forever, so a
// restore never loses one this node applied, and it never puts back an entry older than the one
// this node holds for the same member. An honest snapshot (a later state of the same log) passes
// through unchanged: it holds every revocation before it and each member's newest entry.

// maxControlSnapshot bounds what a control snapshot may make this node read: the state is one
// signed entry per member and per revocation, a few megabytes for any federation we foresee.
const maxControlSnapshot = 64 << 20

// restoreRefusal is one item of a snapshot that restore left out.
type restoreRefusal struct {
	kind   string // "member" or "revoked"
	peerID string
	err    error
}

// verifiedRestore works out the state to restore from a snapshot's state snap, given this node's
// current state cur: snap's revocations that verify, plus every revocation of cur; snap's members
// that verify, are not revoked and keep names unique, except that a member's entry older than the
// one cur holds is kept as cur holds it. It depends only on its arguments (and the verifier), so
// replicas restoring the same snapshot over the same state agree.
func verifiedRestore(v ControlVerifier, cur, snap ControlState) (ControlState, []restoreRefusal) {
	var refused []restoreRefusal
	refuse := func(kind, peerID string, err error) {
		refused = append(refused, restoreRefusal{kind: kind, peerID: peerID, err: err})
	}
	out := ControlState{AppliedIndex: snap.AppliedIndex, AppliedTerm: snap.AppliedTerm}
	revoked := map[string]bool{}
	for _, r := range snap.Revoked {
		peerID, err := v.VerifyRevoke(r.Blob)
		switch {
		case err != nil:
			refuse("revoked", r.PeerID, fmt.Errorf("%w: %w", ErrControlRefused, err))
			continue
		case peerID == "" || peerID != r.PeerID:
			refuse("revoked", r.PeerID, fmt.Errorf("%w: the revocation names peer %q", ErrControlRefused, peerID))
			continue
		case revoked[peerID]:
			refuse("revoked", r.PeerID, errors.New("listed twice"))
			continue
		}
		revoked[peerID] = true
		out.Revoked = append(out.Revoked, ControlRevoked{PeerID: peerID, Blob: slices.Clone(r.Blob), Index: r.Index})
	}
	for _, r := range cur.Revoked {
		if !revoked[r.PeerID] {
			// Applied here and missing from the snapshot: no honest snapshot drops one.
			refuse("revoked", r.PeerID, errors.New("the snapshot drops a revocation this node applied; kept"))
			revoked[r.PeerID] = true
			out.Revoked = append(out.Revoked, r)
		}
	}
	held := map[string]ControlMember{}
	for _, m := range cur.Members {
		held[m.PeerID] = m
	}
	names := map[string]string{}
	seen := map[string]bool{}
	for _, m := range snap.Members {
		e, err := v.VerifyAdmit(m.Blob)
		switch {
		case err != nil:
			refuse("member", m.PeerID, fmt.Errorf("%w: %w", ErrControlRefused, err))
			continue
		case e.PeerID == "" || e.PeerID != m.PeerID || e.Name != m.Name:
			refuse("member", m.PeerID, fmt.Errorf("%w: the entry is of %s (%s), filed as %s (%s)", ErrControlRefused, e.Name, e.PeerID, m.Name, m.PeerID))
			continue
		case seen[e.PeerID]:
			refuse("member", m.PeerID, errors.New("listed twice"))
			continue
		case revoked[e.PeerID]:
			refuse("member", m.PeerID, ErrPeerRevoked)
			continue
		}
		seen[e.PeerID] = true
		m = ControlMember{PeerID: e.PeerID, Name: e.Name, Blob: slices.Clone(m.Blob), Index: m.Index, Serial: e.Serial}
		if h, ok := held[e.PeerID]; ok && h.Serial > e.Serial {
			refuse("member", m.PeerID, fmt.Errorf("serial %d, this node holds %d: %w; kept", e.Serial, h.Serial, ErrStaleEntry))
			m = h
		}
		if other, ok := names[m.Name]; ok {
			refuse("member", m.PeerID, fmt.Errorf("%w (%s)", ErrNameInUse, other))
			continue
		}
		names[m.Name] = m.PeerID
		out.Members = append(out.Members, m)
	}
	slices.SortFunc(out.Members, func(a, b ControlMember) int { return strings.Compare(a.PeerID, b.PeerID) })
	slices.SortFunc(out.Revoked, func(a, b ControlRevoked) int { return strings.Compare(a.PeerID, b.PeerID) })
	return out, refused
}
