// Package httpapi is the node's HTTP API: the routes, bearer-token authentication, roles and body
// limits, decoding requests, encoding answers, the error shape with its status, metrics timing,
// the hits stream (server-sent events), and the mounts of /metrics and the console.
//
// Handlers hold no domain logic: each decodes its request, calls the node's Go API (Backend) and
// encodes the answer. What a request means (who may see a hit, how a record is written, what an
// error is) is decided behind Backend; what an error's kind means in HTTP (its status and
// Retry-After header) is decided here, in status.go, and nowhere else.
//
// httpapi imports node/wire for the shapes and the packages whose types the API carries
// (internal/auth, internal/audit, internal/record, internal/reference, node/notify, transport). It
// must not import node: node implements Backend and builds the handler with New, so the node's own
// tests can go through HTTP.
package httpapi
