package transport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/memberlist"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Health is signed by the member it describes, with its node key, so that no other member can
// gossip health in its name. The signature travels inside the JSON, as the last key "sg", over the
// exact bytes of the document without it ("{...}"): an older release decodes the metadata as JSON
// and ignores the key, and a newer one verifies bytes, not a re-encoding, so fields added later
// do not break the signatures of older releases. memberlist names each member by its peer id, and
// an Ed25519 peer id embeds the public key, so a receiver verifies without a lookup.

// ErrHealthUnsigned is health without a signature: published by a release before signed health.
var ErrHealthUnsigned = errors.New("health is not signed")

// ErrHealthForged is health whose signature is not the named member's, or unsigned health for a
// member already seen signing its health.
var ErrHealthForged = errors.New("health is not signed by the member it names")

// healthDomain separates health signatures from anything else a node key signs.
const healthDomain = "fedarms/health/v1\x00"

// sigKey opens the signature at the end of signed metadata.
const sigKey = `,"sg":"`

// healthSigOverhead is what the signature adds to the metadata: the key, 88 base64 characters
// (64 bytes) and the closing quote.
const healthSigOverhead = len(sigKey) + 88 + 1

// EncodeSignedHealth renders h as EncodeHealth does, signed by id, within limit bytes signature
// included: the shard list is dropped first when it does not fit.
func EncodeSignedHealth(h Health, id *Identity, limit int) ([]byte, error) {
	body, err := EncodeHealth(h, limit-healthSigOverhead)
	if err != nil {
		return nil, err
	}
	sig, err := id.Key.Sign(healthSigned(id.ID, body))
	if err != nil {
		return nil, fmt.Errorf("sign health: %w", err)
	}
	out := make([]byte, 0, len(body)+healthSigOverhead)
	out = append(out, body[:len(body)-1]...) // the body ends with its closing brace
	out = append(out, sigKey...)
	out = base64.StdEncoding.AppendEncode(out, sig)
	return append(out, `"}`...), nil
}

// healthSigned is what a member signs: the domain, its peer id and the document.
func healthSigned(id peer.ID, body []byte) []byte {
	b := make([]byte, 0, len(healthDomain)+len(id)+1+len(body))
	b = append(b, healthDomain...)
	b = append(b, id...)
	b = append(b, 0)
	return append(b, body...)
}

// VerifyHealth decodes the metadata memberlist gossips for the member named name (its peer id)
// and checks its signature. Unsigned health decodes with ErrHealthUnsigned; health signed by
// anyone but name is refused with ErrHealthForged.
func VerifyHealth(name string, meta []byte) (Health, error) {
	h, err := DecodeHealth(meta)
	if err != nil {
		return Health{}, err
	}
	i := bytes.LastIndex(meta, []byte(sigKey))
	if i < 0 {
		return h, ErrHealthUnsigned
	}
	if !bytes.HasSuffix(meta, []byte(`"}`)) || len(meta)-2 < i+len(sigKey) {
		return Health{}, fmt.Errorf("signature is not the last key: %w", ErrHealthForged)
	}
	sig, err := base64.StdEncoding.DecodeString(string(meta[i+len(sigKey) : len(meta)-2]))
	if err != nil {
		return Health{}, fmt.Errorf("signature: %v: %w", err, ErrHealthForged)
	}
	id, err := peer.Decode(name)
	if err != nil {
		return Health{}, fmt.Errorf("member name %q: %v: %w", name, err, ErrHealthForged)
	}
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return Health{}, fmt.Errorf("member %s: no public key in its id: %v: %w", id, err, ErrHealthForged)
	}
	body := append(meta[:i:i], '}')
	if ok, err := pub.Verify(healthSigned(id, body), sig); err != nil || !ok {
		return Health{}, fmt.Errorf("member %s: %w", id, ErrHealthForged)
	}
	return h, nil
}

// HealthGuard is a memberlist.AliveDelegate that ignores alive messages carrying health its member
// did not sign. Unsigned health (a release before signed health) is let through for display, until
// the member has once been seen signing: after that, unsigned health in its name is a forgery.
// memberlist asks it of every alive message, gossiped or merged from a push-pull, before using it.
type HealthGuard struct {
	// Refused, when set, is told of each alive message ignored, with the member it names. The
	// sender is not known at this layer (gossip is relayed).
	Refused func(name string, err error)

	mu     sync.Mutex      // guards signed
	signed map[string]bool // members seen signing their health
}

var _ memberlist.AliveDelegate = (*HealthGuard)(nil)

// NotifyAlive refuses n when its health is not signed by n.
func (g *HealthGuard) NotifyAlive(n *memberlist.Node) error {
	err := g.check(n.Name, n.Meta)
	if err != nil && g.Refused != nil {
		g.Refused(n.Name, err)
	}
	return err
}

func (g *HealthGuard) check(name string, meta []byte) error {
	var err error
	if len(meta) == 0 {
		err = ErrHealthUnsigned // a release before signed health whose health did not fit
	} else {
		_, err = VerifyHealth(name, meta)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err == nil:
		if g.signed == nil {
			g.signed = map[string]bool{}
		}
		g.signed[name] = true
		return nil
	case errors.Is(err, ErrHealthUnsigned):
		if g.signed[name] {
			return fmt.Errorf("unsigned health for a member that signs its health: %w", ErrHealthForged)
		}
		return nil
	}
	return err
}
