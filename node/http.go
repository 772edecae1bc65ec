package node

import (
	"net/http"

	"github.com/fedarms/fedarms/node/httpapi"
)

// The node's Go API is what node/httpapi serves over HTTP.
var _ httpapi.Backend = (*Node)(nil)

// Handler is the node's HTTP API (node/httpapi) over its Go API, with /metrics and the console.
func (n *Node) Handler() http.Handler {
	return httpapi.New(httpapi.Config{
		Node:           n,
		Classify:       apiError,
		Clock:          n.clock,
		Observe:        n.met.observeHTTP,
		MaxBodyBytes:   n.cfg.Limits.MaxBodyBytes,
		MaxImportBytes: n.cfg.Limits.MaxImportBytes,
		StreamIdle:     n.cfg.Limits.StreamIdleTimeout.Duration,
		Metrics:        n.met.handler(),
		MetricsPublic:  n.cfg.MetricsPublic,
		Console:        consoleHandler(),
		Log:            n.log,
	})
}
