// Package node owns and wires every subsystem of one fedarms node: the raft groups of the shards it
// holds (replication), the live match index (matcher), the node database (node.db: tokens, audit
// log, hit notifications), metrics and the HTTP API under /v1. It is the only package that knows all
// of them; nothing below it imports node.
package node
