package node

import (
	"errors"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// apiError is what err means to a caller, over HTTP or from another node: the domain's own errors
// carry their kind (wire.Errorf); the replication sentinels that reach a caller get theirs here.
// node/httpapi maps the kind to an HTTP status, rpc.go to the number a node-to-node answer carries.
func apiError(err error) *wire.Error {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return we
	case errors.Is(err, replication.ErrNotLeader):
		return wire.Wrap(err, wire.Unavailable, "unavailable", err.Error()+"; retry shortly").Retry(1)
	case errors.Is(err, replication.ErrClosed):
		return wire.Wrap(err, wire.Unavailable, "unavailable", "node is shutting down").Retry(5)
	}
	return wire.As(err)
}
