package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	fedtest "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// The hostile-member suite: one admitted member of the roster (the attacker, edge-cdg, an FR edge
// holding europe and africa) turns against the others. It runs the real node software, so it holds
// its roster key and its libp2p identity, and it also writes whatever bytes it likes on any
// protocol. Every attack is a test (or subtest) whose name contains "Hostile"; each asserts the
// refusal and that nothing changed: digests equal, no panic, every hit and decision as before.
//
// Add to it: each new protocol handler gets its attacks here.

// hostileFed is a federation of fedSpecs() with records of FR and KE in place and one hit made at
// edge-nbo and delivered, and edge-cdg as the attacker.
type hostileFed struct {
	*fedCluster
	attacker *Node
	hitID    string // a hit on FR-000007, made at edge-nbo, delivered to Lyon and ncb-fr
}

var (
	hostileFR = auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"}}
	hostileKE = auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder", "searcher"}}
)

func startHostileFed(t *testing.T) *hostileFed {
	t.Helper()
	fc := startFederation(t, fedSpecs(), nil)
	fc.importAt("ncb-fr", hostileFR, fedRecords("FR", 0, 50))
	fc.importAt("ncb-ke", hostileKE, fedRecords("KE", 0, 50))
	fedtest.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	h := &hostileFed{fedCluster: fc, attacker: fc.nodes["edge-cdg"]}
	resp, err := fc.nodes["edge-nbo"].Search(context.Background(),
		auth.Principal{Agency: "KE-CUSTOMS", Country: "KE", Roles: []string{"searcher"}}, wire.SearchRequest{Serial: "FRX000007"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || !resp.Results[0].Hit {
		t.Fatalf("no hit on FRX000007 at edge-nbo: %+v", resp.Results)
	}
	h.hitID = resp.Results[0].NotificationID
	fedtest.WaitFor(t, 30*time.Second, "the hit to be delivered", func() bool {
		hit, err := fc.nodes["edge-nbo"].hits.Get(h.hitID)
		return err == nil && hit.Delivered()
	})
	// The GS receipt means a quorum of the central nodes committed it; the third may apply it a
	// moment later, and the attacks compare the state before and after.
	fedtest.WaitFor(t, 30*time.Second, "every central node to hold the hit", func() bool {
		for _, c := range []string{"lyon-1", "lyon-2", "lyon-3"} {
			if _, err := fc.nodes[c].hits.Get(h.hitID); err != nil {
				return false
			}
		}
		return true
	})
	return h
}

// member is the node named name.
func (h *hostileFed) member(t *testing.T, name string) *Node {
	t.Helper()
	n := h.nodes[name]
	if n == nil {
		t.Fatalf("no member %s", name)
	}
	return n
}

// rawStream opens a stream of proto from the attacker to target, writes payload as it is, closes
// its write side and returns whatever target answers before closing (or within 10 s).
func (h *hostileFed) rawStream(t *testing.T, target, proto string, payload []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.attacker.fed.host.NewStream(ctx, h.member(t, target).fed.id.ID, proto)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(payload); err != nil {
		s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	return io.ReadAll(s)
}

// frame is req as the node-to-node calls frame it: a uvarint length, then the JSON document.
func frame(t *testing.T, req any) []byte {
	t.Helper()
	var b strings.Builder
	if err := writeFrame(&b, req); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// rawFrameHeader is a length prefix announcing n bytes, with nothing after it.
func rawFrameHeader(n uint64) []byte { return binary.AppendUvarint(nil, n) }

// callAs sends req on proto from the attacker to target as a well-formed node-to-node call and
// returns the answer (its Error set when target refused).
func (h *hostileFed) callAs(t *testing.T, target, proto string, req any) rpcAnswer {
	t.Helper()
	b, err := h.rawStream(t, target, proto, frame(t, req))
	if err != nil {
		t.Fatalf("%s on %s: %v", proto, target, err)
	}
	var ans rpcAnswer
	if err := readFrame(bufio.NewReader(strings.NewReader(string(b))), &ans); err != nil {
		t.Fatalf("%s on %s: answer %q: %v", proto, target, b, err)
	}
	if ans.Error != nil {
		ans.Error.Kind = rpcKind(ans.Status)
	}
	return ans
}

// fedState is what an attack must not change: every holder's digest per shard, and every hit each
// node stores with its decision and receipts.
type fedState struct {
	digests map[string]map[string]string // shard -> node -> digest
	hits    map[string]string            // node -> a line per hit, sorted
}

func (h *hostileFed) state(t *testing.T) fedState {
	t.Helper()
	st := fedState{digests: h.digests(), hits: map[string]string{}}
	for name, n := range h.nodes {
		hits, err := n.hits.List(func(*notify.Hit) bool { return true })
		if err != nil {
			t.Fatalf("%s: hits: %v", name, err)
		}
		var lines []string
		for _, x := range hits {
			var rs []string
			for _, role := range []string{notify.RoleGS, notify.RoleNCB, notify.RoleOrigin} {
				rs = append(rs, role+"="+fmt.Sprint(x.Receipts[role] != ""))
			}
			lines = append(lines, fmt.Sprintf("%s origin=%s agency=%s record=%s decision=%s %s", x.ID, x.Origin, x.Agency, x.RecordID, x.Decision, strings.Join(rs, " ")))
		}
		sort.Strings(lines)
		st.hits[name] = strings.Join(lines, "\n")
	}
	return st
}

// assertUnchanged waits for replication to settle, then checks that every holder's digest and
// every node's hits are what they were before the attack, and that every member still serves.
func (h *hostileFed) assertUnchanged(t *testing.T, before fedState) {
	t.Helper()
	time.Sleep(500 * time.Millisecond) // let anything the attack set in motion reach the others
	fedtest.WaitFor(t, 20*time.Second, "every member to converge", h.converged)
	after := h.state(t)
	for shard, holders := range before.digests {
		for name, d := range holders {
			if got := after.digests[shard][name]; got != d {
				t.Errorf("shard %s on %s: digest %s, before the attack %s", shard, name, got, d)
			}
		}
	}
	for name, hits := range before.hits {
		if after.hits[name] != hits {
			t.Errorf("hits on %s changed:\nbefore:\n%s\nafter:\n%s", name, hits, after.hits[name])
		}
	}
	for name, n := range h.nodes {
		if _, err := n.Search(context.Background(), h.admin(), wire.SearchRequest{Serial: "QZ-NOT-RECORDED-7"}); err != nil { // a search that makes no hit
			t.Errorf("%s no longer serves searches: %v", name, err)
		}
	}
}

// settled waits until the federation holds still (no hit, carried hit or decision left to deliver
// anywhere, every shard converged, and two looks at the state alike) and returns that state: what
// an earlier attack or check set in motion has arrived, so a "before" taken now is not a moment in a
// delivery.
func (h *hostileFed) settled(t *testing.T) fedState {
	t.Helper()
	var last fedState
	fedtest.WaitFor(t, 30*time.Second, "outboxes to empty and the federation to settle", func() bool {
		for name, n := range h.nodes {
			out, _ := n.hits.Outbox(name)
			carried, _ := n.hits.CarriedItems()
			decisions, _ := n.hits.DecisionsOut()
			if len(out)+len(carried)+len(decisions) > 0 || !h.converged() {
				return false
			}
		}
		time.Sleep(300 * time.Millisecond)
		st := h.state(t)
		same := reflect.DeepEqual(st, last)
		last = st
		return same
	})
	return last
}

// refusalCount is how many of proto's requests n refused for reason.
func refusalCount(n *Node, proto, reason string) float64 {
	return testutil.ToFloat64(n.met.refusals.WithLabelValues(proto, reason))
}

// refusals sums, over every node, the refusals of proto counted for reason.
func (h *hostileFed) refusals(proto, reason string) float64 {
	var sum float64
	for _, n := range h.nodes {
		sum += refusalCount(n, proto, reason)
	}
	return sum
}

// assertAudited waits until n (any node when nil) has audited a refusal of member by (any member
// when empty: a refusal of relayed gossip names the member the gossip was about) for reason on proto
// (any protocol when empty), and logs the entry.
func (h *hostileFed) assertAudited(t *testing.T, n *Node, by, proto, reason string) {
	t.Helper()
	var found audit.Entry
	fedtest.WaitFor(t, 10*time.Second, "the refusal in the audit log", func() bool {
		for _, m := range h.nodes {
			if n != nil && m != n {
				continue
			}
			entries, err := m.audit.Tail(1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Action == "peer.refused" && e.Outcome == reason && (by == "" || e.Agency == "member:"+by) &&
					(proto == "" || bytes.Contains(e.Query, []byte(proto))) {
					found = e
					return true
				}
			}
		}
		return false
	})
	t.Logf("audited: agency=%s action=%s outcome=%s query=%s", found.Agency, found.Action, found.Outcome, found.Query)
}

// TestHostileHarness shows the harness sees a change when one is made (so a test that finds
// nothing changed means something), and that a well-formed call from the attacker is answered.
func TestHostileHarness(t *testing.T) {
	h := startHostileFed(t)
	before := h.state(t)
	h.importAt("ncb-fr", hostileFR, fedRecords("FR", 50, 51))
	fedtest.WaitFor(t, 20*time.Second, "every member to converge", h.converged)
	after := h.state(t)
	if after.digests["europe"]["lyon-1"] == before.digests["europe"]["lyon-1"] {
		t.Fatal("a new FR record did not change europe's digest: the harness cannot see changes")
	}
	ans := h.callAs(t, "lyon-1", "/fedarms/msg/1", message{Kind: "no-such-kind"})
	if ans.Error == nil || ans.Status != 400 {
		t.Fatalf("an unknown message kind: %+v, want a 400 refusal", ans)
	}
}
