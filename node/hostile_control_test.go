package node

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// The control group carries the roster in force. The General Secretariat signs a member's entry
// again when its role or shards change; each entry carries a serial inside the signed bytes, and
// an entry whose serial is not newer than the one in force never replaces it. The attacker keeps
// its own older signed entries (one as a central member, one with more shards) and replays them.

// controlHistory is the attacker's entries as the General Secretariat signed them over time: the
// older ones are what a compromised edge still holds.
type controlHistory struct {
	rootPriv  []byte
	seed      transport.SignedEntry // the layout's entry (roster file, no serial)
	asCentral transport.SignedEntry // serial 1: once a central member
	more      transport.SignedEntry // serial 2: once more shards
	current   transport.SignedEntry // serial 3: in force (admitted through the control group)
}

func (h *hostileFed) controlHistory(t *testing.T) controlHistory {
	t.Helper()
	var ch controlHistory
	var err error
	if ch.rootPriv, err = os.ReadFile(filepath.Join(h.layout.Dir, "root.key")); err != nil {
		t.Fatal(err)
	}
	all, err := fedplan.LoadRoster(filepath.Join(h.layout.Dir, "roster.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range all {
		if se.Entry.Name == "edge-cdg" {
			ch.seed = se
		}
	}
	sign := func(serial uint64, edit func(*transport.Entry)) transport.SignedEntry {
		e := ch.seed.Entry
		e.Shards = slices.Clone(e.Shards)
		e.Serial = serial
		edit(&e)
		se, err := transport.SignEntry(ch.rootPriv, e)
		if err != nil {
			t.Fatal(err)
		}
		return se
	}
	ch.asCentral = sign(1, func(e *transport.Entry) { e.Role, e.Shards = transport.RoleCentral, []string{transport.AllShards} })
	ch.more = sign(2, func(e *transport.Entry) { e.Shards = []string{"africa", "europe", "mena", "americas"} })
	ch.current = sign(3, func(*transport.Entry) {})
	return ch
}

// assertRosterIs checks that every node's roster in force and control state hold want for the
// attacker.
func (h *hostileFed) assertRosterIs(t *testing.T, want transport.SignedEntry) {
	t.Helper()
	blob, _ := json.Marshal(want)
	id := h.attacker.fed.id.ID
	// The roster in force follows the control state a moment after it applies: wait for both.
	testutil.WaitFor(t, 10*time.Second, "every node to hold the entry in its control state and in force", func() bool {
		for _, n := range h.nodes {
			if m, ok := n.fed.control.Member(id.String()); !ok || !bytes.Equal(m.Blob, blob) {
				return false
			}
			if got, ok := n.fed.roster.GetSigned(id); !ok || !bytes.Equal(got.Signature, want.Signature) {
				return false
			}
		}
		return true
	})
	for name, n := range h.nodes {
		got, ok := n.fed.roster.GetSigned(id)
		if !ok || got.Entry.Role != want.Entry.Role || !slices.Equal(got.Entry.Shards, want.Entry.Shards) ||
			got.Entry.Serial != want.Entry.Serial || !bytes.Equal(got.Signature, want.Signature) {
			t.Errorf("%s: the attacker's entry in force is %+v, want %+v", name, got.Entry, want.Entry)
		}
	}
}

func TestHostileControl(t *testing.T) {
	h := startHostileFed(t)
	ch := h.controlHistory(t)
	lyon := h.api(t, "lyon-1")
	// The General Secretariat admits the attacker's newest entry through the control group.
	if a := lyon.json(t, "admin", "POST", "/v1/federation/members", ch.current); a.status != 200 {
		t.Fatalf("admitting the entry in force: %d %s", a.status, a.body)
	}
	h.assertRosterIs(t, ch.current)

	replay := func(t *testing.T, target string, se transport.SignedEntry) rpcAnswer {
		t.Helper()
		blob, _ := json.Marshal(se)
		return h.callAs(t, target, transport.ProtoControl, controlRequest{Command: replication.ControlCommand{Op: replication.ControlAdmit, Blob: blob}})
	}
	for _, tc := range []struct {
		name string
		se   transport.SignedEntry
	}{
		{"HostileReplayOwnEntryAsCentral", ch.asCentral},
		{"HostileReplayOwnEntryWithMoreShards", ch.more},
		{"HostileReplayOwnSeedEntry", ch.seed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.settled(t)
			counted := h.refusals(transport.ProtoControl, "stale_entry")
			for _, target := range []string{"lyon-1", "lyon-2", "lyon-3"} { // the leader and two that forward
				ans := replay(t, target, tc.se)
				t.Logf("replay via %s: status %d error %+v body %s", target, ans.Status, ans.Error, ans.Body)
				if ans.Error == nil || ans.Status != 409 || ans.Error.Code != "stale_entry" {
					t.Errorf("replay via %s: %d %+v, want 409 stale_entry", target, ans.Status, ans.Error)
				}
			}
			h.assertRosterIs(t, ch.current)
			h.assertUnchanged(t, before)
			if got := h.refusals(transport.ProtoControl, "stale_entry"); got < counted+3 {
				t.Errorf("stale_entry refusals counted: %v, want at least %v", got, counted+3)
			}
			h.assertAudited(t, nil, "edge-cdg", transport.ProtoControl, "stale_entry")
		})
	}

	// Through the admin API of its own node, with an admin token of that node: refused there, and
	// refused by the leader too when the attacker's node skips its own check (forwarded as is).
	t.Run("HostileReplayOwnEntryThroughItsAdminAPI", func(t *testing.T) {
		before := h.settled(t)
		own := h.api(t, "edge-cdg")
		for _, se := range []transport.SignedEntry{ch.asCentral, ch.more, ch.seed} {
			a := own.json(t, "admin", "POST", "/v1/federation/members", se)
			t.Logf("admin API replay of serial %d: %d %s", se.Entry.Serial, a.status, a.body)
			if code, _ := a.errorCode(t); a.status != 409 || code != "stale_entry" {
				t.Errorf("admin API replay of serial %d: %d %s, want 409 stale_entry", se.Entry.Serial, a.status, a.body)
			}
			blob, _ := json.Marshal(se)
			_, err := h.attacker.controlApply(context.Background(), replication.ControlCommand{Op: replication.ControlAdmit, Blob: blob}, false)
			t.Logf("forwarded as is: %v", err)
			if ae := apiError(err); err == nil || ae.Kind != wire.Conflict || ae.Code != "stale_entry" {
				t.Errorf("forwarded replay of serial %d: %v, want 409 stale_entry", se.Entry.Serial, err)
			}
		}
		h.assertRosterIs(t, ch.current)
		h.assertUnchanged(t, before)
	})
}
