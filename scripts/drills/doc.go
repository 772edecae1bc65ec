// Package drills holds the multi-process fault drills of the federation: each test starts its own
// federation with scripts/localfed (so the script is what is tested), drives it only through the
// HTTP API and the script's commands (kill, stop, start, cut, heal), and logs what it measures as
// MEASURE lines that scripts/bench-federation.sh summarises. The tests sit behind the build tag
// `localfed`:
//
//	go test -tags localfed -v ./scripts/drills/ -timeout 30m
//
// It imports only the record package (for the record shape) and internal/testutil (to poll);
// never the node, so nothing is tested that a client could not see.
package drills
