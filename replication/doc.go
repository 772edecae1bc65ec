// Package replication owns the raft groups of a node: one hashicorp/raft group per shard, each with
// its raft log store (LogStore, on bbolt), its snapshot store, and its state file (State, the FSM,
// also bbolt) holding the shard's records by id with the shard's applied index, record count and
// content digest.
//
// A write is a Command (create, update, upsert or delete of a batch of records, with the principal
// that ordered it) carried by one raft log entry. Applying a command is a deterministic function of
// the state and the command, so recovery, replay and every replica reach the same records and the same
// digest. Ownership (only the recording country's NCB, or an admin acting for the General Secretariat,
// may write a record) is checked when the node orders a write and again here when it is applied.
//
// Beside the shard groups runs one Control group, with its own log store and state file
// (control.db): it carries the federation's roster as opaque signed blobs, admissions keyed by peer
// id and revocations (a revoked peer id is never admitted again). Replication cannot read the
// blobs; a ControlVerifier supplied by the node (root-key signatures) judges each one when it is
// ordered and again on every replica when it is applied, and a ControlObserver hears each applied
// change so the node can mirror it into its roster.
//
// The package must not import node, transport or matcher: it reports applied changes through the
// Observer interface, which the node implements to keep its match index current.
package replication
