package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/wire"
)

// `federation upgrade status` shows the held-back format and each member; `finalize` records it
// once every member reads it, and says so again (unchanged) when run twice.
func TestFederationUpgradeStatusAndFinalize(t *testing.T) {
	base, tf, _ := serveFederation(t)
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), append(args, "--addr", base, "--token-file", tf), nil, &out, &out)
		return code, out.String()
	}
	var st wire.UpgradeStatus
	testutil.WaitFor(t, 30*time.Second, "both members' formats heard", func() bool {
		code, out := run("federation", "upgrade", "status", "--json")
		st = wire.UpgradeStatus{}
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.CanFinalize
	})
	if len(st.Members) != 2 || st.Formats[0].Kind != "raft_command" || !st.Formats[0].HeldBack || st.Formats[0].Writes != 1 {
		t.Fatalf("status --json: %+v", st)
	}
	code, out := run("federation", "upgrade", "status")
	if code != 0 || !strings.Contains(out, "raft_command  1") || !strings.Contains(out, "edge-1") || !strings.Contains(out, "can finalize: true") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	code, out = run("federation", "upgrade", "finalize")
	if code != 0 || !strings.Contains(out, "finalized raft_command format 2") {
		t.Fatalf("finalize: exit %d\n%s", code, out)
	}
	code, out = run("federation", "upgrade", "finalize")
	if code != 0 || !strings.Contains(out, "nothing to finalize") {
		t.Fatalf("finalize again: exit %d\n%s", code, out)
	}
	code, out = run("federation", "upgrade", "status")
	if code != 0 || !strings.Contains(out, "can finalize: false") || !strings.Contains(out, "nothing to finalize") {
		t.Fatalf("status after finalize: exit %d\n%s", code, out)
	}
}
