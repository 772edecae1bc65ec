package wire

import "github.com/fedarms/fedarms/transport"

// CentralStatus is GET /v1/federation/central: the central members of the roster and, for every
// raft group the node holds, which of them vote there. A change of central members (a join, a
// removal) is in progress until every group's voters are exactly the roster's central members.
type CentralStatus struct {
	// Members are the central members of the roster in force on the node, by name.
	Members []string `json:"members"`
	// Groups are the control group and every shard group the node holds.
	Groups []CentralGroup `json:"groups"`
	// Change says what is in progress ("adding lyon-4: not yet a voter of control, europe"),
	// empty when the voters of every group are the central members.
	Change string `json:"change,omitempty"`
}

// CentralGroup is one raft group's voters as the node sees its configuration.
type CentralGroup struct {
	Group  string   `json:"group"` // "control" or a shard name
	Leader string   `json:"leader,omitempty"`
	Voters []string `json:"voters"`
	// Joining are central members that are not voters yet (added as non-voters while they catch
	// up, or not added yet); Behind, known on the group's leader only, says by how many entries.
	Joining []CentralJoining `json:"joining,omitempty"`
	// Leaving are voters no longer in the roster (revoked), still to be removed.
	Leaving []string `json:"leaving,omitempty"`
}

// CentralJoining is a central member that does not vote in a group yet.
type CentralJoining struct {
	Name string `json:"name"`
	// Member is true once the group has it as a non-voter.
	Member bool `json:"member"`
	// Behind is how many log entries it lacks, as the group's leader last heard (leader only).
	Behind *uint64 `json:"behind,omitempty"`
}

// CentralRemoval is POST /v1/federation/central/removals: the root-signed revocation of a central
// member. Force allows the voters to go below three (never below a majority of those that answer).
type CentralRemoval struct {
	Revocation transport.SignedRevocation `json:"revocation"`
	Force      bool                       `json:"force,omitempty"`
}
