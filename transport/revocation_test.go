package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func validRevocation(t *testing.T) Revocation {
	t.Helper()
	return Revocation{PeerID: newTestIdentity(t).ID, Name: "edge-cdg", RevokedAt: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		Reason: "device lost at CDG terminal 2"}
}

func TestRevocationValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Revocation)
		ok   bool
	}{
		{"valid", func(*Revocation) {}, true},
		{"no name, no reason", func(r *Revocation) { r.Name, r.Reason = "", "" }, true},
		{"reason of 1 KiB", func(r *Revocation) { r.Reason = strings.Repeat("x", 1024) }, true},
		{"empty peer id", func(r *Revocation) { r.PeerID = "" }, false},
		{"garbage peer id", func(r *Revocation) { r.PeerID = "xyz" }, false},
		{"name with space", func(r *Revocation) { r.Name = "edge cdg" }, false},
		{"name too long", func(r *Revocation) { r.Name = strings.Repeat("n", 65) }, false},
		{"no time", func(r *Revocation) { r.RevokedAt = time.Time{} }, false},
		{"reason over 1 KiB", func(r *Revocation) { r.Reason = strings.Repeat("x", 1025) }, false},
		{"reason not UTF-8", func(r *Revocation) { r.Reason = "\xff" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validRevocation(t)
			tc.edit(&r)
			err := r.Validate()
			if tc.ok && err != nil {
				t.Fatalf("refused a valid revocation: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidRevocation) {
				t.Fatalf("err %v, want ErrInvalidRevocation", err)
			}
		})
	}
}

func TestSignAndVerifyRevocation(t *testing.T) {
	pub, priv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	r := validRevocation(t)
	r.RevokedAt = r.RevokedAt.In(time.FixedZone("CET", 3600))
	sr, err := SignRevocation(priv, r)
	if err != nil {
		t.Fatal(err)
	}
	if sr.Revocation.RevokedAt.Location() != time.UTC {
		t.Errorf("revoked_at kept in %v, want UTC", sr.Revocation.RevokedAt.Location())
	}
	// What an operator posts is JSON: the signature must survive the round trip, to the nanosecond.
	b, err := json.Marshal(sr)
	if err != nil {
		t.Fatal(err)
	}
	var back SignedRevocation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyRevocation(pub, back); err != nil {
		t.Fatalf("signed revocation after JSON: %v", err)
	}
	forged, err := SignRevocation(otherPriv, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sr   SignedRevocation
		want error
	}{
		{"signed by another key", forged, ErrBadRevocationSignature},
		{"unsigned", SignedRevocation{Revocation: sr.Revocation}, ErrBadRevocationSignature},
		{"peer id changed", editedRev(sr, func(r *Revocation) { r.PeerID = newTestIdentity(t).ID }), ErrBadRevocationSignature},
		{"name changed", editedRev(sr, func(r *Revocation) { r.Name = "edge-nbo" }), ErrBadRevocationSignature},
		{"time changed by 1ns", editedRev(sr, func(r *Revocation) { r.RevokedAt = r.RevokedAt.Add(time.Nanosecond) }), ErrBadRevocationSignature},
		{"reason changed", editedRev(sr, func(r *Revocation) { r.Reason += "." }), ErrBadRevocationSignature},
		{"malformed", editedRev(sr, func(r *Revocation) { r.RevokedAt = time.Time{} }), ErrInvalidRevocation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyRevocation(pub, tc.sr); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func editedRev(sr SignedRevocation, edit func(*Revocation)) SignedRevocation {
	edit(&sr.Revocation)
	return sr
}

// A root-key signature over a roster entry must never pass as a revocation of the same member, nor
// the reverse: a leaked admission would otherwise let anyone revoke that member.
func TestRevocationAndEntrySignaturesAreDomainSeparated(t *testing.T) {
	pub, priv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	e := validEntry(t)
	se, err := SignEntry(priv, e)
	if err != nil {
		t.Fatal(err)
	}
	r := Revocation{PeerID: e.PeerID, Name: e.Name, RevokedAt: time.Unix(0, 0).UTC()}
	sr, err := SignRevocation(priv, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyRevocation(pub, SignedRevocation{Revocation: r, Signature: se.Signature}); !errors.Is(err, ErrBadRevocationSignature) {
		t.Errorf("an entry's signature verified as a revocation: %v", err)
	}
	if err := VerifyEntry(pub, SignedEntry{Entry: e, Signature: sr.Signature}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a revocation's signature verified as an entry: %v", err)
	}
	eb, err := CanonicalBytes(e)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := RevocationBytes(r)
	if err != nil {
		t.Fatal(err)
	}
	// Neither domain is a prefix of the other, so no entry and no revocation share signed bytes.
	if bytes.HasPrefix(rb, []byte(entryDomain)) || bytes.HasPrefix(eb, []byte(revocationDomain)) ||
		strings.HasPrefix(entryDomain, revocationDomain) || strings.HasPrefix(revocationDomain, entryDomain) {
		t.Fatal("entry and revocation encodings share a domain prefix")
	}
}
