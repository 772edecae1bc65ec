package wire

import "time"

// ShardStatus is one shard as GET /v1/shards reports it.
type ShardStatus struct {
	Shard        string    `json:"shard"`
	Role         string    `json:"role"`
	Leader       string    `json:"leader"`
	AppliedIndex uint64    `json:"applied_index"`
	Records      uint64    `json:"records"`
	Digest       string    `json:"digest"`
	LastContact  time.Time `json:"last_contact,omitzero"`
	Stale        bool      `json:"stale"`
	// Source names the member this node takes the shard's entries from: its leader for a raft
	// member (role voter or nonvoter), the source it takes them from now for a fed holder (role
	// fed, which has no leader of its own); empty on the voter that leads, and while there is none.
	Source string `json:"source"`
	// Halted says why the shard stopped applying entries on this node (empty while it applies);
	// the copy is then stale, reads are served from it and writes go elsewhere.
	Halted      string    `json:"halted,omitempty"`
	HaltedSince time.Time `json:"halted_since,omitzero"`
	// NeedsCommandFormat is, while the shard is halted on an entry this release does not read, the
	// command format of that entry: a release that reads it resumes the shard when it restarts.
	NeedsCommandFormat int `json:"needs_command_format,omitempty"`
	// NeedsRelease names the releases members run that read that format, as they gossip them
	// (empty when no member known reads it).
	NeedsRelease string `json:"needs_release,omitempty"`
	// DivergedFrom and DivergedTo are, while the shard is halted because this copy applied
	// entries its group's current history does not hold (the group was rebuilt from an earlier
	// copy), the first and last of them: what may be held here only.
	DivergedFrom uint64 `json:"diverged_from,omitempty"`
	DivergedTo   uint64 `json:"diverged_to,omitempty"`
}

// HealthCheck is one subsystem's part of the health answer.
type HealthCheck struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	// DaysLeft and Expires are the API certificate's (check "tls" only).
	DaysLeft *int      `json:"days_left,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
}

// Health is the answer to GET /v1/health.
type Health struct {
	Status  string                 `json:"status"` // ok or degraded
	Node    string                 `json:"node"`
	Role    string                 `json:"role"`
	Version string                 `json:"version"`
	Uptime  int64                  `json:"uptime_s"`
	Records int                    `json:"records"`
	Checks  map[string]HealthCheck `json:"checks"`
}

// Member is one federation member as GET /v1/cluster/members reports it.
type Member struct {
	Name        string        `json:"name"`
	PeerID      string        `json:"peer_id"`
	Role        string        `json:"role"`
	Country     string        `json:"country,omitempty"`
	Status      string        `json:"status"` // alive, suspect, dead, left
	Shards      []MemberShard `json:"shards"`
	Outbox      int           `json:"outbox_depth"`
	Overdue     int           `json:"overdue_hits"`
	LastCentral time.Time     `json:"last_contact,omitzero"`
	Version     string        `json:"version,omitempty"`
	Self        bool          `json:"self,omitempty"`
	Addrs       []string      `json:"addrs,omitempty"`
	// Conn is how this node is connected to the member right now: direct, relayed (only through
	// a circuit relay) or none; empty for the node itself and in a one-node federation.
	Conn string `json:"conn,omitempty"`
	// ConnAddrs are the remote addresses of those connections (a relayed one holds /p2p-circuit).
	ConnAddrs []string `json:"conn_addrs,omitempty"`
	// Unsigned is set when the member's health is not signed (a release before signed health): it
	// is shown, but not trusted to choose whom to ask for a shard.
	Unsigned bool `json:"unsigned_health,omitempty"`
	// Formats are the formats the member reads and writes, by kind ("raft_command", "control",
	// "snapshot", "message", "data_dir"), as it gossips them; a member of a release before formats
	// were published is shown reading and writing format 1 of each (FormatsReported false).
	Formats map[string]FormatSupport `json:"formats,omitempty"`
	// FormatsReported is false when the member published no formats (an earlier release).
	FormatsReported bool `json:"formats_reported"`
}

// FormatSupport is what a member does with one kind of format: it reads formats Oldest to Newest
// and writes Writes.
type FormatSupport struct {
	Oldest int `json:"reads_oldest"`
	Newest int `json:"reads_newest"`
	Writes int `json:"writes"`
}

// MemberShard is one shard's progress on a member; the lag is measured against the most advanced
// copy any member reports.
type MemberShard struct {
	Shard      string `json:"shard"`
	Applied    uint64 `json:"applied_index"`
	LagEntries uint64 `json:"lag_entries"`
	LagSeconds int64  `json:"lag_seconds"`
	// Digest is the start of the copy's content digest (GET /v1/shards on the member has it whole).
	Digest string `json:"digest,omitempty"`
}

// FaultRequest is the body of POST /v1/debug/faults (drills and tests only).
type FaultRequest struct {
	Action string `json:"action"` // isolate, rejoin, cut, heal, heal_all
	Peer   string `json:"peer"`   // member name (for cut and heal: the other end; for isolate: optional, default this node)
}
