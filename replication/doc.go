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
// The package must not import node, transport or matcher: it reports applied changes through the
// Observer interface, which the node implements to keep its match index current.
package replication
