package node

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// TestRPCAnswerCompatible: a node-to-node refusal carries the number the previous release sends
// and reads for it (the HTTP status it had), and each number reads back as its kind, so an older
// node and a newer one understand each other's refusals.
func TestRPCAnswerCompatible(t *testing.T) {
	previous := map[wire.Kind]int{wire.Invalid: 400, wire.Unauthenticated: 401, wire.Forbidden: 403,
		wire.NotFound: 404, wire.Conflict: 409, wire.TooLarge: 413, wire.UnsupportedMedia: 415,
		wire.Internal: 500, wire.Unavailable: 503}
	for _, k := range wire.Kinds() {
		if _, ok := previous[k]; !ok {
			// A kind added since (too_many): its own number, read back as itself here; an older
			// node reads a number below 500 as the caller's fault, which a limit is.
			if got := rpcKind(rpcStatus(k)); got != k || rpcStatus(k) >= 500 {
				t.Errorf("%s is sent as %d and reads back as %s", k, rpcStatus(k), got)
			}
			continue
		}
		if got := rpcStatus(k); got != previous[k] {
			t.Errorf("%s is sent as %d, the previous release as %d", k, got, previous[k])
		}
		if got := rpcKind(previous[k]); got != k {
			t.Errorf("%d reads as %s, want %s", previous[k], got, k)
		}
	}
	// An answer as the previous release wrote it, byte for byte.
	old := []byte(`{"error":{"code":"stale_entry","message":"serial 3, in force 4"},"status":409}`)
	var ans rpcAnswer
	if err := json.Unmarshal(old, &ans); err != nil {
		t.Fatal(err)
	}
	ans.Error.Kind = rpcKind(ans.Status)
	if ans.Error.Kind != wire.Conflict || ans.Error.Code != "stale_entry" {
		t.Fatalf("read %+v", ans.Error)
	}
	e := wire.Errorf(wire.Conflict, "stale_entry", "serial 3, in force 4")
	b, _ := json.Marshal(rpcAnswer{Error: e, Status: rpcStatus(e.Kind)})
	if string(b) != string(old) {
		t.Fatalf("sent %s, the previous release %s", b, old)
	}
	// Numbers no release sends for a kind are still refusals of the right side.
	if rpcKind(418) != wire.Invalid || rpcKind(502) != wire.Internal || rpcKind(0) != wire.Internal {
		t.Error("unknown numbers")
	}
}

// TestAPIErrorKinds: the replication sentinels a caller can meet have their kinds, wrapped or not,
// and a domain error keeps its own.
func TestAPIErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		err   error
		kind  wire.Kind
		retry int
	}{
		{fmt.Errorf("shard europe: %w", replication.ErrNotLeader), wire.Unavailable, 1},
		{replication.ErrClosed, wire.Unavailable, 5},
		{wire.Errorf(wire.Conflict, "central_fixed", "x: %w", replication.ErrNotLeader), wire.Conflict, 0},
		{fmt.Errorf("boom"), wire.Internal, 0},
	} {
		ae := apiError(tc.err)
		if ae.Kind != tc.kind || ae.RetryAfter != tc.retry {
			t.Errorf("%v: %s retry %d, want %s retry %d", tc.err, ae.Kind, ae.RetryAfter, tc.kind, tc.retry)
		}
	}
	if ae := apiError(replication.ErrClosed); ae.Message != "node is shutting down" || ae.Code != "unavailable" {
		t.Errorf("closed: %+v", ae)
	}
}
