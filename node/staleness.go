package node

import "time"

// A copy of a shard is stale when its last contact with the shard's leader is more than
// max_staleness ago on the node's clock, when it has never had one, or when the shard halted on
// this node (it no longer applies what the leader sends). Search coverage, GET /v1/shards, health
// and the fedarms_shard_stale metric all ask stale; the console reads max_staleness from
// GET /v1/shards (stale_after_seconds) and compares a member's lag_seconds the same way
// (isStale in console/js/model.js).

// copyStale is the rule, a function of its arguments alone.
func copyStale(contact, now time.Time, maxStaleness time.Duration, halted bool) bool {
	return halted || contact.IsZero() || now.Sub(contact) > maxStaleness
}

// stale reports whether this node's copy, last in contact with its leader at contact, is stale now.
func (n *Node) stale(contact time.Time, halted bool) bool {
	return copyStale(contact, n.now(), n.cfg.MaxStaleness.Duration, halted)
}

// StaleAfter is max_staleness: a copy out of contact with its leader longer than this is stale (GET /v1/shards gives it to the console as stale_after_seconds).
func (n *Node) StaleAfter() time.Duration { return n.cfg.MaxStaleness.Duration }
