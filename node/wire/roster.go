package wire

import "github.com/fedarms/fedarms/transport"

// RosterChange is the answer to an admission or a revocation.
type RosterChange struct {
	PeerID string `json:"peer_id"`
	Name   string `json:"name,omitempty"`
	// Index is the control log index the change was committed at.
	Index uint64 `json:"index"`
	// Changed is false when the control group already said so (a repeated admission or revocation).
	Changed bool `json:"changed"`
}

// RosterMember is one member of the roster in force on a node.
type RosterMember struct {
	transport.SignedEntry
	// Source is "control" for an entry the control group admitted, "file" for one known only from
	// the node's roster file (the seed).
	Source string `json:"source"`
}

// RosterView is GET /v1/federation/roster: the roster in force on a node and the revocations.
type RosterView struct {
	Members []RosterMember               `json:"members"`
	Revoked []transport.SignedRevocation `json:"revoked"`
	// Leader is the control group's leader (a member name), empty when unknown.
	Leader string `json:"leader,omitempty"`
	// AppliedIndex is the control log index the node has applied.
	AppliedIndex uint64 `json:"applied_index"`
}
