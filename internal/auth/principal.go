// Package auth issues and checks the bearer tokens that callers of a node's API present. A token is
// bound to an agency (such as FR-NCB, WCO-I2C or KE-CUSTOMS), the agency's country (empty for
// international bodies) and a set of roles.
//
// It owns the "tokens" bucket of the node's local bbolt file, which holds each token's public part and
// the SHA-256 of its secret, never the secret itself. It must not import other fedarms packages.
//
// A secret reads fa_<id>_<key>: id is the token's public 12-hex-digit id and key is 32 random bytes
// in unpadded base64url. The id lets a secret be looked up without a search over hashes; the key is
// compared through its hash in constant time.
package auth

import "slices"

// Roles a token can carry.
const (
	// RoleAdmin may do everything, including managing tokens.
	RoleAdmin = "admin"
	// RoleRecorder creates, updates and deletes its own country's records and decides on their hits.
	RoleRecorder = "recorder"
	// RoleSearcher searches and sees its own searches' hits.
	RoleSearcher = "searcher"
	// RoleOperator sees the node's and the federation's health, members and audit log.
	RoleOperator = "operator"
)

// knownRoles in the order they are listed to users.
var knownRoles = []string{RoleAdmin, RoleRecorder, RoleSearcher, RoleOperator}

// Principal is the authenticated caller of one request.
type Principal struct {
	TokenID string   `json:"token_id"`
	Agency  string   `json:"agency"`
	Country string   `json:"country,omitempty"`
	Roles   []string `json:"roles"`
	// OnBehalfOf lists the agencies the token may search for, besides its own.
	OnBehalfOf []string `json:"on_behalf_of,omitempty"`
	// Limits are the token's own read limits (zero fields: the node's defaults).
	Limits ReadLimits `json:"limits,omitzero"`
}

// MayActFor reports whether the principal may search on behalf of agency: its own agency, one its
// token lists, or any for an admin.
func (p Principal) MayActFor(agency string) bool {
	return agency == "" || agency == p.Agency || slices.Contains(p.Roles, RoleAdmin) || slices.Contains(p.OnBehalfOf, agency)
}

// Has reports whether the principal may act in role; admin implies every role.
func (p Principal) Has(role string) bool {
	return slices.Contains(p.Roles, RoleAdmin) || slices.Contains(p.Roles, role)
}
