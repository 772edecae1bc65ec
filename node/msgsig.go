package node

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// Who may say what over /fedarms/msg/1 (the rules; notify/sign.go has the signed encodings):
//   - a hit: its origin, directly, or any member with the origin's signature over it (a carrier);
//     never a hit naming the receiver itself as origin;
//   - a receipt for role R: the recipient playing R for the hit, directly, or a carrier with that
//     recipient's signature over it;
//   - a decision: a node of the recording country's NCB or a central node, directly or signed;
//   - a trace request: its origin, directly or signed; an answer for country C: an NCB node of C
//     that the trace names, directly or signed; a close: the origin or a central node.
// A member that breaks them is refused (refused: log, counter, audit) and nothing is stored.

// msgRefusal is a refused message: the kind and reason to answer and count, and what was wrong.
type msgRefusal struct {
	kind   wire.Kind
	reason string
	err    error
}

func (r *msgRefusal) Error() string { return r.err.Error() }

func (r *msgRefusal) Unwrap() error { return r.err }

func refuse(kind wire.Kind, reason, format string, args ...any) *msgRefusal {
	return &msgRefusal{kind: kind, reason: reason, err: fmt.Errorf(format, args...)}
}

// refusedMsg records a refused message from the member behind from and returns the error to
// answer it with.
func (n *Node) refusedMsg(from peer.ID, r *msgRefusal) error {
	n.refused(from, transport.ProtoMessage, r.reason, r.err)
	code := "forbidden"
	if r.kind == wire.Invalid {
		code = "bad_request"
	}
	return wire.Errorf(r.kind, code, "%s: %v", r.reason, r.err)
}

// memberKey is the public key of the member named name: its roster entry's peer id embeds it.
func (n *Node) memberKey(name string) (transport.Entry, crypto.PubKey, error) {
	e, ok := n.fed.roster.ByName(name)
	if !ok {
		return transport.Entry{}, nil, fmt.Errorf("signer %q is not in the roster: %w", name, notify.ErrBadSignature)
	}
	pub, err := e.PeerID.ExtractPublicKey()
	if err != nil {
		return transport.Entry{}, nil, fmt.Errorf("key of %s: %w", name, notify.ErrBadSignature)
	}
	return e, pub, nil
}

// signedBy verifies sig with the roster key of its signer and returns the signer's entry; verify
// checks the signature against the message's content.
func (n *Node) signedBy(sig *notify.Signature, verify func(pub notify.Verifier) error) (transport.Entry, error) {
	if sig == nil || len(sig.Sig) == 0 {
		return transport.Entry{}, notify.ErrUnsigned
	}
	e, pub, err := n.memberKey(sig.Signer)
	if err != nil {
		return transport.Entry{}, err
	}
	if err := verify(pub); err != nil {
		return transport.Entry{}, err
	}
	return e, nil
}

// sigRefusal maps a failed verification to its refusal: unsigned is reported as unsignedReason,
// anything else as a bad signature.
func sigRefusal(err error, unsignedReason, what string) *msgRefusal {
	if errors.Is(err, notify.ErrUnsigned) {
		return refuse(wire.Forbidden, unsignedReason, "%s: %w", what, err)
	}
	return refuse(wire.Forbidden, "bad_signature", "%s: %w", what, err)
}

// playsFor reports whether member e is a recipient of role for a hit on a record of country: any
// central node for the General Secretariat, an NCB node of country for its NCB.
func playsFor(e transport.Entry, role, country string) bool {
	switch role {
	case notify.RoleGS:
		return e.Role == transport.RoleCentral
	case notify.RoleNCB:
		return e.Role == transport.RoleNCB && e.Country == country
	}
	return false
}

// mayDecide reports whether member e may decide on a hit on a record of country: a node of that
// country's NCB, or a central node acting for the General Secretariat.
func mayDecide(e transport.Entry, country string) bool {
	return e.Role == transport.RoleCentral || (e.Role == transport.RoleNCB && e.Country == country)
}

// standsFor reports whether member e stands for trace recipient rc ("gs" or "ncb:CC").
func standsFor(e transport.Entry, rc string) bool {
	if rc == "gs" {
		return e.Role == transport.RoleCentral
	}
	return e.Role == transport.RoleNCB && rc == "ncb:"+e.Country
}

// signer is this node's identity key, for the messages it signs.
func (n *Node) signer() notify.Signer { return n.fed.id.Key }
