package node

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Ids are unique across the federation: no write of any kind, on any path, may use an id another
// country owns, whichever shard the write lands in. Records are sharded by recording country, so
// the FR attacker's write of KE-000003 lands in europe while KE's record sits in africa; only a
// check across shards (made where the shard leader, a central node holding every shard, orders
// the write) sees the clash.

// api serves n over HTTP with tokens of its own: "admin", "fr" and "ke" (recorders of FR and KE),
// as an operator of that node holds them.
func (h *hostileFed) api(t *testing.T, name string) *testNode {
	t.Helper()
	n := h.member(t, name)
	tn := &testNode{Node: n, srv: httptest.NewServer(n.Handler()), tokens: map[string]string{}}
	t.Cleanup(tn.srv.Close)
	for _, p := range []struct{ name, agency, country, roles string }{
		{"admin", "GS-ADMIN", "", "admin"},
		{"fr", "FR-NCB", "FR", "recorder,searcher"},
		{"ke", "KE-NCB", "KE", "recorder,searcher"},
	} {
		secret, _, err := n.Tokens().Create(p.agency, p.country, strings.Split(p.roles, ","), "")
		if err != nil {
			t.Fatal(err)
		}
		tn.tokens[p.name] = secret
	}
	return tn
}

// assertOwned checks, on every holder of the owner's shard, that id is the owner's record: found by
// GET (the local read) and by a search of its serial, with its recording country.
func (h *hostileFed) assertOwned(t *testing.T, id, serial, owner string) {
	t.Helper()
	shard, _ := h.attacker.shardMap.Shard(owner)
	for name, n := range h.nodes {
		if _, held := n.groups[shard]; !held {
			continue
		}
		rec, ok := n.getRecord(id)
		if !ok || rec.RecordingCountry != owner {
			t.Errorf("%s: GET %s: %+v (found %v), want the record of %s", name, id, rec, ok, owner)
		}
		found := false
		for _, r := range n.localResults(SearchRequest{Serial: serial, Limit: 10}, nil) {
			if r.ID == id && r.Record.RecordingCountry == owner {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: a search of %s no longer finds %s of %s", name, serial, id, owner)
		}
	}
}

// asForeign is a copy of the owner's record id with another recording country: the shadow.
func asForeign(id, serial, country string) record.Record {
	r := frRecord(id, serial)
	r.RecordingCountry = country
	return r
}

func TestHostileIDs(t *testing.T) {
	h := startHostileFed(t)
	principalFR := replication.Principal{Agency: "FR-NCB", Country: "FR"}

	// The KE recorder imports a record whose id FR owns (ncb-ke holds only africa, so it cannot
	// see europe's FR-000001: the leader's check refuses it).
	t.Run("HostileImportOfAnotherCountrysID", func(t *testing.T) {
		before := h.settled(t)
		ke := h.api(t, "ncb-ke")
		res := ke.importLines(t, "ke", jsonLines(asForeign("FR-000001", "FRX000001", "KE")))
		t.Logf("import of FR-000001 as KE: %+v", res)
		if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Line != 1 ||
			!strings.Contains(res.Rejected[0].Error, "conflict") || !strings.Contains(res.Rejected[0].Error, "FR") {
			t.Errorf("import of FR-000001 by KE: %+v, want line 1 rejected as a conflict naming FR", res)
		}
		h.assertUnchanged(t, before)
		h.assertOwned(t, "FR-000001", "FRX000001", "FR")
	})

	// The attacker forwards over /fedarms/apply/1, for its own country as the rules allow, an
	// upsert whose second item uses KE's id: that item is refused, the first goes through, and the
	// item index in the answer is the one the attacker sent.
	t.Run("HostileUpsertForwardedWithAnotherCountrysID", func(t *testing.T) {
		before := h.settled(t)
		same := fedRecords("FR", 10, 11)[0] // as stored: applying it changes no digest
		cmd := replication.Command{Op: replication.OpUpsert, Principal: principalFR,
			Records: []record.Record{same, asForeign("KE-000003", "KEX000003", "FR")}}
		data, err := cmd.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"lyon-1", "lyon-2"} { // one leads europe, one forwards
			ans := h.callAs(t, target, transport.ProtoApply, applyRequest{Shard: "europe", Command: data})
			var res replication.Result
			if ans.Error == nil {
				decodeAnswer(t, ans, &res)
			}
			t.Logf("upsert via %s: error %v, result %+v", target, ans.Error, res)
			if ans.Error != nil || res.Applied != 1 || len(res.Errors) != 1 || res.Errors[0].Index != 1 ||
				res.Errors[0].Code != replication.CodeConflict || !strings.Contains(res.Errors[0].Message, "KE") {
				t.Errorf("upsert via %s: %v %+v, want item 1 refused as a conflict naming KE, item 0 applied", target, ans.Error, res)
			}
		}
		// The same record put in a shard its country does not map to (misfiled) is refused too.
		misfiled := replication.Command{Op: replication.OpUpsert, Principal: principalFR, Records: []record.Record{same}}
		data, _ = misfiled.MarshalBinary()
		ans := h.callAs(t, "lyon-1", transport.ProtoApply, applyRequest{Shard: "africa", Command: data})
		var res replication.Result
		if ans.Error == nil {
			decodeAnswer(t, ans, &res)
		}
		t.Logf("FR record into africa: error %v, result %+v", ans.Error, res)
		if ans.Error == nil && res.Applied != 0 {
			t.Errorf("an FR record was filed in africa: %+v", res)
		}
		h.assertUnchanged(t, before)
		h.assertAudited(t, nil, "edge-cdg", transport.ProtoApply, "foreign_id")
		h.assertOwned(t, "KE-000003", "KEX000003", "KE")
		h.assertOwned(t, "FR-000010", "FRX000010", "FR")
	})

	t.Run("HostileUpdateOfAnotherCountrysID", func(t *testing.T) {
		before := h.settled(t)
		for _, name := range []string{"edge-cdg", "ncb-fr"} { // holds africa; does not
			a := h.api(t, name).json(t, "fr", "PUT", "/v1/records/KE-000005", asForeign("KE-000005", "KEX000005", "FR"))
			t.Logf("update at %s: %d %s", name, a.status, a.body)
			if code, _ := a.errorCode(t); a.status != 409 || code != "conflict" || !strings.Contains(string(a.body), "KE") {
				t.Errorf("update of KE-000005 as FR at %s: %d %s, want 409 conflict naming KE", name, a.status, a.body)
			}
		}
		h.assertUnchanged(t, before)
		h.assertOwned(t, "KE-000005", "KEX000005", "KE")
	})

	t.Run("HostileCreateOfAnotherCountrysID", func(t *testing.T) {
		before := h.settled(t)
		for _, name := range []string{"edge-cdg", "ncb-fr"} {
			a := h.api(t, name).json(t, "fr", "POST", "/v1/records", asForeign("KE-000006", "KEX000006", "FR"))
			t.Logf("create at %s: %d %s", name, a.status, a.body)
			if code, _ := a.errorCode(t); a.status != 409 || code != "conflict" || !strings.Contains(string(a.body), "KE") {
				t.Errorf("create of KE-000006 as FR at %s: %d %s, want 409 conflict naming KE", name, a.status, a.body)
			}
		}
		h.assertUnchanged(t, before)
		h.assertOwned(t, "KE-000006", "KEX000006", "KE")
	})

	t.Run("HostileDeleteOfAnotherCountrysID", func(t *testing.T) {
		before := h.settled(t)
		for _, name := range []string{"edge-cdg", "ncb-fr"} {
			a := h.api(t, name).call(t, "fr", "DELETE", "/v1/records/KE-000007", "", nil)
			t.Logf("delete at %s: %d %s", name, a.status, a.body)
			if code, _ := a.errorCode(t); a.status != 403 || code != "forbidden" || !strings.Contains(string(a.body), "KE") {
				t.Errorf("delete of KE-000007 as FR at %s: %d %s, want 403 naming KE", name, a.status, a.body)
			}
		}
		// Forwarded straight to the leader of KE's shard, for the attacker's own country.
		cmd := replication.Command{Op: replication.OpDelete, Principal: principalFR, IDs: []string{"KE-000007"}}
		data, _ := cmd.MarshalBinary()
		ans := h.callAs(t, "lyon-1", transport.ProtoApply, applyRequest{Shard: "africa", Command: data})
		var res replication.Result
		if ans.Error == nil {
			decodeAnswer(t, ans, &res)
		}
		t.Logf("forwarded delete: error %v, result %+v", ans.Error, res)
		if ans.Error == nil && (res.Applied != 0 || len(res.Errors) != 1 || res.Errors[0].Code != replication.CodeForbidden) {
			t.Errorf("forwarded delete of KE-000007 as FR: %+v, want it refused", res)
		}
		h.assertUnchanged(t, before)
		h.assertOwned(t, "KE-000007", "KEX000007", "KE")
	})

	// A duplicate that slipped through anyway (two shard leaders ordering the same id at once) must
	// not hide the first record from search, nor keep its owner from deleting it. The race is
	// played here by applying to the shard's group directly, past the leader's check.
	t.Run("DuplicateFromARaceLeavesTheIndexAlone", func(t *testing.T) {
		var lead *Node
		testutil.WaitFor(t, 10*time.Second, "a europe leader", func() bool {
			for _, n := range h.nodes {
				if g := n.groups["europe"]; g != nil && g.IsLeader() {
					lead = n
					return true
				}
			}
			return false
		})
		dup := asForeign("KE-000009", "KEX000009", "FR")
		dup.Serial = "DUPX000009"
		res, err := lead.groups["europe"].Apply(t.Context(), &replication.Command{Op: replication.OpUpsert,
			Principal: principalFR, Records: []record.Record{dup}})
		if err != nil || res.Applied != 1 {
			t.Fatalf("planting the duplicate: %+v %v", res, err)
		}
		testutil.WaitFor(t, 20*time.Second, "every member to converge", h.converged)
		for _, n := range h.nodes {
			n.index.caughtUp()
		}
		h.assertOwned(t, "KE-000009", "KEX000009", "KE")
		// KE deletes its record: routed to africa by KE's country, it finds KE's, not FR's.
		ke := h.api(t, "ncb-ke")
		if a := ke.call(t, "ke", "DELETE", "/v1/records/KE-000009", "", nil); a.status != 204 {
			t.Fatalf("KE's delete of its own KE-000009: %d %s", a.status, a.body)
		}
		testutil.WaitFor(t, 20*time.Second, "every member to converge", h.converged)
		if rec, ok := h.member(t, "lyon-1").getRecord("KE-000009"); !ok || rec.RecordingCountry != "FR" {
			t.Fatalf("after KE's delete lyon-1 reads %+v %v, want the FR duplicate alone", rec, ok)
		}
		// The duplicate, no longer shadowed, is found again where both shards are held.
		lyon := h.member(t, "lyon-1")
		lyon.index.caughtUp()
		found := false
		for _, r := range lyon.localResults(SearchRequest{Serial: "DUPX000009", Limit: 10}, nil) {
			found = found || r.ID == "KE-000009"
		}
		if !found {
			t.Error("the FR duplicate is not searchable once KE's record is gone")
		}
	})
}

// decodeAnswer decodes the body of a node-to-node answer.
func decodeAnswer(t *testing.T, ans rpcAnswer, v any) {
	t.Helper()
	if err := json.Unmarshal(ans.Body, v); err != nil {
		t.Fatalf("answer %s: %v", ans.Body, err)
	}
}
