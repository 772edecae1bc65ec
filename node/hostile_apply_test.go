package node

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Attacks on /fedarms/apply/1: the attacker (edge-cdg, FR) forwards writes of its own country, as
// an edge may, but with records the API would never let through. Before: an empty id panicked every
// replica of europe (bbolt: key required) on apply and again on every restart; an id with spaces,
// 200 KB of remarks and an unknown type were applied and replicated. Each must now be refused as an
// item or as a bad request, with nothing changed anywhere.

// hostileApply sends cmd (or raw command bytes) to lyon-1 as a forwarded write of europe and
// returns the answer with its Result decoded when there is one.
func (h *hostileFed) hostileApply(t *testing.T, raw []byte) (rpcAnswer, replication.Result) {
	t.Helper()
	ans := h.callAs(t, "lyon-1", transport.ProtoApply, applyRequest{Shard: "europe", Command: raw})
	var res replication.Result
	if ans.Error == nil && len(ans.Body) > 0 {
		if err := json.Unmarshal(ans.Body, &res); err != nil {
			t.Fatalf("answer body %s: %v", ans.Body, err)
		}
	}
	return ans, res
}

func commandBytes(t *testing.T, cmd *replication.Command) []byte {
	t.Helper()
	b, err := cmd.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refusedAsItem fails the test unless the answer refuses the write: a 400, or a Result that applied
// nothing and names field among its item errors.
func refusedAsItem(t *testing.T, ans rpcAnswer, res replication.Result, field string) {
	t.Helper()
	if ans.Error != nil {
		if ans.Status != 400 {
			t.Fatalf("refused with %d %+v, want 400", ans.Status, ans.Error)
		}
		t.Logf("refused: %d %s: %s", ans.Status, ans.Error.Code, ans.Error.Message)
		return
	}
	if res.Applied != 0 || len(res.Errors) == 0 {
		t.Fatalf("applied %d, errors %+v: the write was not refused", res.Applied, res.Errors)
	}
	e := res.Errors[0]
	if e.Code != replication.CodeInvalid || !strings.Contains(e.Message, field) {
		t.Fatalf("item error %+v, want %s naming %s", e, replication.CodeInvalid, field)
	}
	t.Logf("refused as an item: %s: %s", e.Code, e.Message)
}

func TestHostileApply(t *testing.T) {
	h := startHostileFed(t)
	fr := principalOf(hostileFR)
	upsert := func(mut func(r *record.Record)) []byte {
		r := frRecord("FR-666001", "EVIL666001")
		mut(&r)
		return commandBytes(t, &replication.Command{Op: replication.OpUpsert, Principal: fr, Records: []record.Record{r}})
	}
	records := []struct {
		name, field string
		mut         func(r *record.Record)
	}{
		{"HostileApplyEmptyID", "id", func(r *record.Record) { r.ID = "" }},
		{"HostileApplyIDWithSpaces", "id", func(r *record.Record) { r.ID = "FR 666 001" }},
		{"HostileApplyHugeRemarks", "remarks", func(r *record.Record) { r.Remarks = strings.Repeat("x", 200<<10) }},
		{"HostileApplyBadType", "type", func(r *record.Record) { r.Type = "trebuchet" }},
		{"HostileApplyBadStatus", "status", func(r *record.Record) { r.Status = "borrowed" }},
	}
	for _, tc := range records {
		t.Run(tc.name, func(t *testing.T) {
			before := h.settled(t)
			count := refusalCount(h.member(t, "lyon-1"), transport.ProtoApply, "invalid_record")
			ans, res := h.hostileApply(t, upsert(tc.mut))
			refusedAsItem(t, ans, res, tc.field)
			if got := refusalCount(h.member(t, "lyon-1"), transport.ProtoApply, "invalid_record"); got != count+1 {
				t.Errorf("fedarms_peer_refusals_total{reason=invalid_record} went from %v to %v", count, got)
			}
			h.assertUnchanged(t, before)
		})
	}
	t.Run("HostileApplyDeleteEmptyID", func(t *testing.T) {
		before := h.settled(t)
		ans, res := h.hostileApply(t, commandBytes(t, &replication.Command{Op: replication.OpDelete, Principal: fr, IDs: []string{""}}))
		refusedAsItem(t, ans, res, "id")
		h.assertUnchanged(t, before)
	})
	t.Run("HostileApplyGarbageCommand", func(t *testing.T) {
		before := h.settled(t)
		count := refusalCount(h.member(t, "lyon-1"), transport.ProtoApply, "bad_command")
		ans, _ := h.hostileApply(t, []byte("\x01\x03garbage that is no command at all"))
		if got := refusalCount(h.member(t, "lyon-1"), transport.ProtoApply, "bad_command"); got != count+1 {
			t.Errorf("fedarms_peer_refusals_total{reason=bad_command} went from %v to %v", count, got)
		}
		if ans.Error == nil || ans.Status != 400 {
			t.Fatalf("garbage command answered %+v, want 400", ans)
		}
		t.Logf("refused: %d %s: %s", ans.Status, ans.Error.Code, ans.Error.Message)
		h.assertUnchanged(t, before)
	})
	t.Run("HostileApplyHugeRecordCount", func(t *testing.T) {
		before := h.settled(t)
		// A valid header, then a count of records the bytes that follow could never hold.
		cmd := commandBytes(t, &replication.Command{Op: replication.OpUpsert, Principal: fr})
		cmd = cmd[:len(cmd)-1] // drop the count (0)
		pad := make([]byte, 256<<10)
		cmd = binary.AppendUvarint(cmd, uint64(len(pad)))
		cmd = append(cmd, pad...)
		ans, _ := h.hostileApply(t, cmd)
		if ans.Error == nil || ans.Status != 400 {
			t.Fatalf("a command declaring %d records answered %+v, want 400", len(pad), ans)
		}
		t.Logf("refused: %d %s: %s", ans.Status, ans.Error.Code, ans.Error.Message)
		h.assertUnchanged(t, before)
	})
	// The attacker orders writes as the General Secretariat and as another country: refused whole,
	// whichever central node it reaches, before anything is checked item by item.
	for _, p := range []struct {
		name string
		who  replication.Principal
		rec  string // the id of a record it tries to delete
	}{
		{"HostileApplyAsAdmin", replication.Principal{Agency: "GS-ADMIN", Admin: true}, "KE-000001"},
		{"HostileApplyAsAnotherCountry", replication.Principal{Agency: "KE-NCB", Country: "KE"}, "KE-000002"},
	} {
		t.Run(p.name, func(t *testing.T) {
			before := h.settled(t)
			count := h.refusals(transport.ProtoApply, "foreign_principal")
			for _, target := range []string{"lyon-1", "lyon-2", "lyon-3"} {
				ans := h.callAs(t, target, transport.ProtoApply, applyRequest{Shard: "africa",
					Command: commandBytes(t, &replication.Command{Op: replication.OpDelete, Principal: p.who, IDs: []string{p.rec}})})
				if ans.Error == nil || ans.Status != 403 {
					t.Fatalf("a delete ordered as %+v at %s answered %+v, want 403", p.who, target, ans)
				}
			}
			if got := h.refusals(transport.ProtoApply, "foreign_principal"); got != count+3 {
				t.Errorf("fedarms_peer_refusals_total{reason=foreign_principal} went from %v to %v, want 3 more", count, got)
			}
			h.assertAudited(t, nil, "edge-cdg", transport.ProtoApply, "foreign_principal")
			h.assertUnchanged(t, before)
		})
	}
}
