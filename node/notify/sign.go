package notify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Every message between members proves who it speaks for. One that comes straight from its author
// is authenticated by the stream (the secure channel proves the sender's peer id, the roster names
// it); one relayed by another member (a hit handed to a carrier, a receipt carried back, a trace's
// copy holding another country's answer) carries its author's signature: Ed25519 with the author's
// node identity key, over a canonical encoding of the fields nobody on the way may change. The
// encoding is not JSON (key order and number forms vary between encoders): a domain string naming
// the kind of message and the version, the signer's roster name, then each field as a uvarint
// length and its bytes, times as RFC 3339 in UTC, floats as their IEEE bits, maps and sets sorted.
// The receiver finds the key in the roster: an Ed25519 peer id embeds its public key.

// SignatureVersion is the version of the encodings signed here; it is part of each domain string.
const SignatureVersion = 1

// Signature errors, for callers to tell a missing signature from a false one with errors.Is.
var (
	ErrUnsigned     = errors.New("not signed")
	ErrBadSignature = errors.New("signature does not verify")
)

// Signature is a member's signature over one message's content.
type Signature struct {
	Version int    `json:"v"`
	Signer  string `json:"signer"` // the author's roster name
	Sig     []byte `json:"sig"`
}

// Signer signs with a node's identity key (a libp2p crypto.PrivKey is one).
type Signer interface {
	Sign(data []byte) ([]byte, error)
}

// Verifier checks a signature with a member's public key (a libp2p crypto.PubKey is one).
type Verifier interface {
	Verify(data, sig []byte) (bool, error)
}

// Domain strings: one per kind of signed message, so a signature of one kind never passes for
// another.
const (
	domainHit      = "fedarms/msg/hit/v1\x00"
	domainReceipt  = "fedarms/msg/receipt/v1\x00"
	domainDecision = "fedarms/msg/decision/v1\x00"
	domainTrace    = "fedarms/msg/trace/v1\x00"
	domainAnswer   = "fedarms/msg/trace-answer/v1\x00"
)

// canon builds a canonical encoding.
type canon struct{ b bytes.Buffer }

func newCanon(domain, signer string) *canon {
	c := &canon{}
	c.b.WriteString(domain)
	c.str(signer)
	return c
}

func (c *canon) str(s string) *canon {
	c.b.Write(binary.AppendUvarint(nil, uint64(len(s))))
	c.b.WriteString(s)
	return c
}

func (c *canon) time(t time.Time) *canon { return c.str(t.UTC().Format(time.RFC3339Nano)) }

func (c *canon) float(f float64) *canon {
	c.b.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
	return c
}

func (c *canon) bool(v bool) *canon {
	if v {
		c.b.WriteByte(1)
	} else {
		c.b.WriteByte(0)
	}
	return c
}

func (c *canon) set(items []string) *canon {
	s := slices.Clone(items)
	sort.Strings(s)
	c.b.Write(binary.AppendUvarint(nil, uint64(len(s))))
	for _, x := range s {
		c.str(x)
	}
	return c
}

func (c *canon) pairs(m map[string]string) *canon {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.b.Write(binary.AppendUvarint(nil, uint64(len(keys))))
	for _, k := range keys {
		c.str(k).str(m[k])
	}
	return c
}

func sign(key Signer, signer string, c *canon) (*Signature, error) {
	sig, err := key.Sign(c.b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign message: %w", err)
	}
	return &Signature{Version: SignatureVersion, Signer: signer, Sig: sig}, nil
}

// check verifies sig over the encoding enc builds for sig's signer.
func check(pub Verifier, sig *Signature, enc func(signer string) *canon) error {
	if sig == nil || len(sig.Sig) == 0 {
		return ErrUnsigned
	}
	if sig.Version != SignatureVersion {
		return fmt.Errorf("signature version %d, this node reads %d: %w", sig.Version, SignatureVersion, ErrBadSignature)
	}
	ok, err := pub.Verify(enc(sig.Signer).b.Bytes(), sig.Sig)
	if err != nil || !ok {
		return fmt.Errorf("signature by %s: %w", sig.Signer, ErrBadSignature)
	}
	return nil
}

// hitBytes covers what the origin decides about a hit; what recipients set (decision, receipts)
// is left out.
func hitBytes(signer string, h *Hit) *canon {
	c := newCanon(domainHit, signer).str(h.ID).str(h.RecordID).str(h.RecordingCountry).str(h.SearchID).
		str(h.Origin).str(h.Agency).str(h.OnBehalfOf).time(h.SearchedAt).float(h.Score).pairs(h.Why).
		bool(h.Late).bool(h.Urgent).time(h.Deadline)
	if h.SearchOrigin != "" {
		// Only late hits made by a central node for another node's search carry it, so every
		// other hit is signed as before.
		c = c.str(h.SearchOrigin)
	}
	return c
}

// SignHit is the origin's signature over h, for a carrier to show.
func SignHit(key Signer, h *Hit) (*Signature, error) {
	return sign(key, h.Origin, hitBytes(h.Origin, h))
}

// VerifyHit checks that sig is h's origin's signature over h; pub is the origin's key.
func VerifyHit(pub Verifier, h *Hit, sig *Signature) error {
	if sig != nil && sig.Signer != h.Origin {
		return fmt.Errorf("hit %s signed by %s, not its origin %s: %w", h.ID, sig.Signer, h.Origin, ErrBadSignature)
	}
	return check(pub, sig, func(s string) *canon { return hitBytes(s, h) })
}

func receiptBytes(signer, hitID, role string, at time.Time) *canon {
	return newCanon(domainReceipt, signer).str(hitID).str(role).time(at)
}

// SignReceipt is a recipient's word that it stored hit hitID as role at at.
func SignReceipt(key Signer, recipient, hitID, role string, at time.Time) (*Signature, error) {
	return sign(key, recipient, receiptBytes(recipient, hitID, role, at))
}

// VerifyReceipt checks a receipt signed by sig.Signer; pub is that member's key.
func VerifyReceipt(pub Verifier, sig *Signature, hitID, role string, at time.Time) error {
	return check(pub, sig, func(s string) *canon { return receiptBytes(s, hitID, role, at) })
}

func decisionBytes(signer string, d *Decision) *canon {
	return newCanon(domainDecision, signer).str(d.HitID).str(d.Decision).str(d.Comment).str(d.DecidedBy).time(d.DecidedAt)
}

// SignDecision is the deciding node's signature over d.
func SignDecision(key Signer, signer string, d *Decision) (*Signature, error) {
	return sign(key, signer, decisionBytes(signer, d))
}

// VerifyDecision checks a decision signed by sig.Signer; pub is that member's key.
func VerifyDecision(pub Verifier, sig *Signature, d *Decision) error {
	return check(pub, sig, func(s string) *canon { return decisionBytes(s, d) })
}

// traceBytes covers the request as its origin made it; answers, status and receipts come later.
func traceBytes(signer string, t *Trace) *canon {
	f := t.Firearm
	return newCanon(domainTrace, signer).str(t.ID).str(t.RecordID).str(f.Serial).str(f.Make).str(f.Model).
		str(f.Calibre).str(f.Type).str(f.CountryOfManufacture).str(t.LastImportCountry).str(t.RequestedBy).
		str(t.RequesterCountry).str(t.Origin).time(t.CreatedAt).set(t.Recipients)
}

// SignTrace is the origin's signature over a trace request.
func SignTrace(key Signer, t *Trace) (*Signature, error) {
	return sign(key, t.Origin, traceBytes(t.Origin, t))
}

// VerifyTrace checks t.OriginSig; pub is the key of t's origin.
func VerifyTrace(pub Verifier, t *Trace) error {
	if t.OriginSig != nil && t.OriginSig.Signer != t.Origin {
		return fmt.Errorf("trace %s signed by %s, not its origin %s: %w", t.ID, t.OriginSig.Signer, t.Origin, ErrBadSignature)
	}
	return check(pub, t.OriginSig, func(s string) *canon { return traceBytes(s, t) })
}

func answerBytes(signer, traceID string, a *TraceAnswer) *canon {
	return newCanon(domainAnswer, signer).str(traceID).str(a.Country).str(a.Agency).str(a.Text).time(a.At)
}

// SignAnswer is the answering NCB node's signature over its answer to trace traceID.
func SignAnswer(key Signer, signer, traceID string, a *TraceAnswer) (*Signature, error) {
	return sign(key, signer, answerBytes(signer, traceID, a))
}

// VerifyAnswer checks a.Sig; pub is the key of a.Sig.Signer.
func VerifyAnswer(pub Verifier, traceID string, a *TraceAnswer) error {
	return check(pub, a.Sig, func(s string) *canon { return answerBytes(s, traceID, a) })
}
