// Package wire holds the JSON shapes of the HTTP API (the bodies of requests and answers, with
// their field names, which are a contract) and the API's error: a kind, a stable code, a message
// and, for bad input, the field.
//
// wire is what a client needs to talk to a node: the command line client, the scripts and the
// benchmark tools import it instead of the server. It owns no behaviour beyond describing a value
// and a malformed JSON body, so it imports only the packages whose types the API carries as they
// are (internal/record, internal/auth, matcher, node/notify, transport), never
// node, node/httpapi or replication.
//
// An error's kind says what went wrong in terms of the request (invalid, not found, conflict,
// unavailable, ...); node/httpapi turns a kind into an HTTP status and node's rpc layer into the
// number a node-to-node answer carries, each in one function.
package wire
