package node

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A returning member's replication is restarted at most once per resumeEvery, and not while a
// snapshot is on its way to it; once the snapshot is done it is.
func TestResumeGateSkipsAMemberReceivingASnapshot(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	snapshotting := map[string]bool{}
	var asked []string
	gate := &resumeGate{now: func() time.Time { return now }, last: map[string]time.Time{},
		sending: func(layer string, id raft.ServerID) bool {
			asked = append(asked, layer+" "+string(id))
			return snapshotting[layer+" "+string(id)]
		}}

	snapshotting["shard/europe edge-cdg"] = true
	if v := gate.admit("europe", "shard/europe", "edge-cdg"); v != resumeSnapshotting {
		t.Fatalf("member receiving a snapshot: verdict %d, want resumeSnapshotting", v)
	}
	if len(asked) != 1 || asked[0] != "shard/europe edge-cdg" {
		t.Fatalf("asked the layer about %q, want the europe layer about edge-cdg", asked)
	}
	if v := gate.admit("africa", "shard/africa", "edge-cdg"); v != resumeRestart {
		t.Fatalf("another group's replication to the member: verdict %d, want resumeRestart", v)
	}
	now = now.Add(time.Second)
	snapshotting["shard/europe edge-cdg"] = false
	if v := gate.admit("europe", "shard/europe", "edge-cdg"); v != resumeRestart {
		t.Fatalf("snapshot done: verdict %d, want resumeRestart (a skipped restart does not count)", v)
	}
	now = now.Add(resumeEvery - time.Second)
	if v := gate.admit("europe", "shard/europe", "edge-cdg"); v != resumeRecent {
		t.Fatalf("again within resumeEvery: verdict %d, want resumeRecent", v)
	}
	now = now.Add(time.Second)
	if v := gate.admit("europe", "shard/europe", "edge-cdg"); v != resumeRestart {
		t.Fatalf("after resumeEvery: verdict %d, want resumeRestart", v)
	}
}
