package node

import (
	"context"
	"errors"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// Authenticate finds the principal of a bearer token's secret.
func (n *Node) Authenticate(secret string) (auth.Principal, error) {
	return n.tokens.Authenticate(secret)
}

// CreateToken makes an API token as admin p asks (POST /v1/tokens); the secret is in the answer
// only.
func (n *Node) CreateToken(p auth.Principal, req wire.TokenRequest) (wire.NewToken, error) {
	if req.Country != "" && !isCountry(req.Country) {
		return wire.NewToken{}, wire.FieldError("country", "country: "+req.Country+" is not an ISO 3166-1 alpha-2 code")
	}
	ttl, err := wire.ParseTTL(req.TTL)
	if err != nil {
		return wire.NewToken{}, wire.FieldError("ttl", "ttl: "+err.Error())
	}
	secret, tok, err := n.tokens.Issue(auth.Request{Agency: req.Agency, Country: req.Country, Roles: req.Roles, Note: req.Note,
		TTL: ttl, OnBehalfOf: req.OnBehalfOf, Limits: req.Limits})
	if err != nil {
		we := &wire.Error{Kind: wire.Invalid, Code: "invalid_field", Message: err.Error()}
		if fe := (*auth.FieldError)(nil); errors.As(err, &fe) {
			we.Field = fe.Field
		}
		return wire.NewToken{}, we
	}
	if err := n.auditDurably(context.Background(), audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "token.create", ResultIDs: []string{tok.ID}, Outcome: "ok"}); err != nil {
		// The secret is shown once: a token whose making is not known to be audited is withdrawn.
		_ = n.tokens.Revoke(tok.ID)
		return wire.NewToken{}, err
	}
	return wire.NewToken{Token: secret, Info: tok}, nil
}

// ListTokens lists the API tokens, revoked ones included, without their secrets.
func (n *Node) ListTokens() []auth.Token { return n.tokens.List() }

// RevokeToken revokes token id, as admin p.
func (n *Node) RevokeToken(p auth.Principal, id string) error {
	err := n.tokens.Revoke(id)
	if errors.Is(err, auth.ErrNotFound) {
		return wire.Errorf(wire.NotFound, "not_found", "no token %q", id)
	}
	if err != nil {
		return err
	}
	return n.auditDurably(context.Background(), audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "token.revoke", ResultIDs: []string{id}, Outcome: "ok"})
}

// AuditTail is the last limit entries of the audit log.
func (n *Node) AuditTail(limit int) ([]audit.Entry, error) { return n.audit.Tail(limit) }

// AuditBefore is up to limit entries of the audit log before sequence number before (the newest
// with 0), newest first.
func (n *Node) AuditBefore(before uint64, limit int) ([]audit.Entry, error) {
	return n.audit.Before(before, limit)
}

// AuditSince is the first limit entries of the audit log after sequence number after.
func (n *Node) AuditSince(after uint64, limit int) ([]audit.Entry, error) {
	return n.audit.Since(after, limit)
}

// VerifyAudit checks the audit log's hash chain.
