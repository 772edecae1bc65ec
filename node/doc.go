// Package node owns and wires every subsystem of one fedarms node: the raft groups of the shards it
// holds (replication), the live match index (matcher), the node database (node.db: tokens, audit
// log, hit notifications) and metrics, behind the node's Go API (Search, Import, the records, hits,
// traces, roster, tokens and audit calls), which node/httpapi serves under /v1 (Handler wires it).
// No method of Node takes an http.ResponseWriter: errors carry a kind (node/wire), which httpapi
// maps to an HTTP status and rpc.go to a node-to-node answer. In a multi-node federation it also
// runs the libp2p host (transport) and the control group, whose admissions and revocations it
// mirrors into the roster the host's gater follows; the roster file is only the seed. It is the only
// package that knows all of them; nothing below it imports node.
package node
