package transport

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Revocation errors, for callers to tell a forged revocation from a malformed one with errors.Is.
var (
	ErrInvalidRevocation      = errors.New("invalid revocation")
	ErrBadRevocationSignature = errors.New("revocation signature does not verify against the federation root key")
)

// maxReasonBytes bounds a revocation's reason: it is replicated to every member and audited.
const maxReasonBytes = 1024

// Revocation takes a member out of the federation for good: once the control group has applied it,
// the peer id can never be admitted again.
type Revocation struct {
	// PeerID is the revoked member's libp2p identity.
	PeerID peer.ID `json:"peer_id"`
	// Name is the member's roster name when it was revoked, for operators and the audit log.
	Name string `json:"name,omitempty"`
	// RevokedAt is when the General Secretariat signed the revocation.
	RevokedAt time.Time `json:"revoked_at"`
	// Reason is free text for the record (at most 1 KiB).
	Reason string `json:"reason,omitempty"`
}

// SignedRevocation is a Revocation with the root key's signature over its canonical encoding.
type SignedRevocation struct {
	// Revocation is the signed content.
	Revocation Revocation `json:"revocation"`
	// Signature is Ed25519 over RevocationBytes(Revocation) by the federation root key.
	Signature []byte `json:"signature"`
}

// revocationDomain differs from entryDomain in its first bytes, so no signature over a roster entry
// can ever verify as a signature over a revocation, or the reverse.
const revocationDomain = "fedarms/roster-revocation/v1\x00"

// Validate reports the first thing wrong with r, naming the field.
func (r Revocation) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidRevocation, fmt.Sprintf(format, args...))
	}
	if err := r.PeerID.Validate(); err != nil {
		return bad("peer_id: %v", err)
	}
	if pub, err := r.PeerID.ExtractPublicKey(); err != nil || pub.Type() != crypto.Ed25519 {
		return bad("peer_id %s: not an Ed25519 identity", r.PeerID)
	}
	if r.Name != "" && (len(r.Name) > 64 || !utf8.ValidString(r.Name) ||
		strings.IndexFunc(r.Name, func(c rune) bool { return !unicode.IsPrint(c) || c == ' ' }) >= 0) {
		return bad("name %q: want 1-64 printable characters without spaces", r.Name)
	}
	if r.RevokedAt.IsZero() {
		return bad("revoked_at: required")
	}
	if len(r.Reason) > maxReasonBytes || !utf8.ValidString(r.Reason) {
		return bad("reason: want at most %d bytes of UTF-8", maxReasonBytes)
	}
	return nil
}

// RevocationBytes is the byte string a revocation signature covers: the revocation domain, then
// peer id bytes, name, revoked_at (Unix nanoseconds, 8 bytes big-endian) and reason, each
// variable-length field as uvarint length + bytes. Not JSON, for the reasons CanonicalBytes gives.
func RevocationBytes(r Revocation) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(revocationDomain)
	putBytes(&b, []byte(r.PeerID))
	putBytes(&b, []byte(r.Name))
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(r.RevokedAt.UnixNano())))
	putBytes(&b, []byte(r.Reason))
	return b.Bytes(), nil
}

// SignRevocation validates r and signs its canonical encoding with the root key. RevokedAt is kept
// in UTC so that its JSON form reads the same everywhere.
func SignRevocation(rootPriv ed25519.PrivateKey, r Revocation) (SignedRevocation, error) {
	if len(rootPriv) != ed25519.PrivateKeySize {
		return SignedRevocation{}, fmt.Errorf("sign revocation: root key has %d bytes, want %d", len(rootPriv), ed25519.PrivateKeySize)
	}
	r.RevokedAt = r.RevokedAt.UTC()
	msg, err := RevocationBytes(r)
	if err != nil {
		return SignedRevocation{}, fmt.Errorf("sign revocation: %w", err)
	}
	return SignedRevocation{Revocation: r, Signature: ed25519.Sign(rootPriv, msg)}, nil
}

// VerifyRevocation accepts sr only if its revocation is well formed and the root key signed exactly
// it.
func VerifyRevocation(rootPub ed25519.PublicKey, sr SignedRevocation) error {
	if len(rootPub) != ed25519.PublicKeySize {
		return fmt.Errorf("verify revocation: root key has %d bytes, want %d", len(rootPub), ed25519.PublicKeySize)
	}
	msg, err := RevocationBytes(sr.Revocation)
	if err != nil {
		return fmt.Errorf("verify revocation: %w", err)
	}
	if len(sr.Signature) == 0 {
		return fmt.Errorf("verify revocation of %s: not signed: %w", sr.Revocation.PeerID, ErrBadRevocationSignature)
	}
	if !ed25519.Verify(rootPub, msg, sr.Signature) {
		return fmt.Errorf("verify revocation of %s: %w", sr.Revocation.PeerID, ErrBadRevocationSignature)
	}
	return nil
}
