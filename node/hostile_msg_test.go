package node

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// The hostile member (edge-cdg) forges messages over /fedarms/msg/1: decisions, receipts, hits
// and traces it has no right to send. Each must be refused, counted and audited, and change nothing.

// msgRefusals is n's count of refused messages for reason.
func msgRefusals(n *Node, reason string) float64 {
	mfs, _ := n.met.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "fedarms_peer_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["protocol"] == transport.ProtoMessage && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// msgAudited returns n's latest peer.refused audit entry for the attacker with reason.
func msgAudited(n *Node, reason string) (audit.Entry, bool) {
	entries, _ := n.audit.Tail(500)
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.Action == "peer.refused" && e.Agency == "member:edge-cdg" && e.Outcome == reason {
			return e, true
		}
	}
	return audit.Entry{}, false
}

// msgRefused sends m from the attacker to target and checks the refusal: the status, the reason
// counted once more, an audit entry.
func (h *hostileFed) msgRefused(t *testing.T, target string, m message, status int, reason string) {
	t.Helper()
	n := h.member(t, target)
	before := msgRefusals(n, reason)
	ans := h.callAs(t, target, transport.ProtoMessage, m)
	if ans.Error == nil {
		t.Errorf("%s took the forged %s (role %s): %s", target, m.Kind, m.Role, ans.Body)
		return
	}
	t.Logf("%s refused the forged %s (role %s): %d %s: %s", target, m.Kind, m.Role, ans.Status, ans.Error.Code, ans.Error.Message)
	if ans.Status != status {
		t.Errorf("%s answered %d, want %d", target, ans.Status, status)
	}
	if got := msgRefusals(n, reason); got != before+1 {
		t.Errorf("%s counted %v refusals for %s, want %v", target, got, reason, before+1)
	}
	if e, ok := msgAudited(n, reason); !ok {
		t.Errorf("%s has no peer.refused audit entry for edge-cdg with outcome %s", target, reason)
	} else if testing.Verbose() {
		t.Logf("latest audit entry at %s for %s (one a minute per member, protocol and reason): %s %s %s", target, reason, e.Action, e.Agency, e.Query)
	}
}

// msgTraceState is every node's traces, a line per trace: status, answers, receipts.
func (h *hostileFed) msgTraceState(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, n := range h.nodes {
		ts, err := n.hits.Traces(func(*notify.Trace) bool { return true })
		if err != nil {
			t.Fatalf("%s: traces: %v", name, err)
		}
		var lines []string
		for _, x := range ts {
			var as, rs []string
			for _, a := range x.Answers {
				as = append(as, a.Country+":"+a.Text)
			}
			for r, at := range x.Receipts {
				rs = append(rs, fmt.Sprintf("%s=%v", r, at != ""))
			}
			sort.Strings(rs)
			lines = append(lines, fmt.Sprintf("%s origin=%s by=%s status=%s answers=%v receipts=%v", x.ID, x.Origin, x.RequestedBy, x.Status, as, rs))
		}
		sort.Strings(lines)
		out[name] = strings.Join(lines, "\n")
	}
	return out
}

// forgedHit is a hit on an FR record that origin could have made, with every field a sender may
// not set filled in.
func forgedHit(id, origin string) *notify.Hit {
	now := time.Now().UTC()
	stamp := now.Format(time.RFC3339Nano)
	return &notify.Hit{ID: id, RecordID: "FR-000009", RecordingCountry: "FR", SearchID: "s-forged", Origin: origin,
		Agency: "DE-BKA", SearchedAt: now, Score: 1, Deadline: now.Add(time.Hour),
		Decision: notify.Confirmed, DecidedBy: "FR-NCB", DecidedAt: now, Comment: "seized",
		Receipts: map[string]string{notify.RoleGS: stamp, notify.RoleNCB: stamp, notify.RoleOrigin: stamp}}
}

// msgHolder is a central node that holds hit id (a hit goes to one of them).
func (h *hostileFed) msgHolder(t *testing.T, id string) string {
	t.Helper()
	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
		if _, err := h.member(t, name).hits.Get(id); err == nil {
			return name
		}
	}
	t.Fatalf("hit %s is at no central node", id)
	return ""
}

func TestHostileMsg(t *testing.T) {
	h := startHostileFed(t)

	// (a) A decision on a delivered hit, claiming FR's NCB, to the GS and to the origin.
	t.Run("HostileDecisionForgedAsNCB", func(t *testing.T) {
		h.settled(t)
		before := h.state(t)
		d := notify.Decision{HitID: h.hitID, Decision: notify.Denied, DecidedBy: "FR-NCB", DecidedAt: time.Now().UTC(), Comment: "forged"}
		h.msgRefused(t, h.msgHolder(t, h.hitID), message{Kind: "decision", Role: notify.RoleGS, Decision: &d}, 403, "wrong_sender")
		h.msgRefused(t, "edge-nbo", message{Kind: "decision", Role: notify.RoleOrigin, Decision: &d}, 403, "wrong_sender")
		// A decision for a hit the target does not hold is not stored either (503: an honest one
		// is retried until its hit arrives).
		other := notify.Decision{HitID: "h-nowhere", Decision: notify.Denied, DecidedBy: "FR-NCB", DecidedAt: time.Now().UTC()}
		if ans := h.callAs(t, "lyon-1", transport.ProtoMessage, message{Kind: "decision", Role: notify.RoleGS, Decision: &other}); ans.Status != 503 {
			t.Errorf("a decision for a hit lyon-1 does not hold: %d %+v, want 503", ans.Status, ans.Error)
		}
		h.assertUnchanged(t, before)
	})

	// (b2) An item for the GS inbox, which only a central node hands to the inbox's leader: a hit
	// and a decision planted in it by an edge, at every central node (the leader among them).
	t.Run("HostileInboxItemFromEdge", func(t *testing.T) {
		h.settled(t)
		before := h.state(t)
		d := notify.Decision{HitID: h.hitID, Decision: notify.Denied, DecidedBy: "FR-NCB", DecidedVia: "ncb-fr", DecidedAt: time.Now().UTC()}
		for _, c := range []string{"lyon-1", "lyon-2", "lyon-3"} {
			h.msgRefused(t, c, message{Kind: "inbox", Inbox: &notify.InboxItem{V: notify.InboxFormat, Kind: notify.InboxHit, Hit: forgedHit("h-inbox-planted", "edge-nbo")}}, 403, "wrong_sender")
			h.msgRefused(t, c, message{Kind: "inbox", Inbox: &notify.InboxItem{V: notify.InboxFormat, Kind: notify.InboxDecision, Decision: &d}}, 403, "wrong_sender")
		}
		h.assertUnchanged(t, before)
	})

	// (c) A hit planted in lyon-1's outbox: lyon-1 named as its origin, another agency, already
	// confirmed, every receipt set.
	t.Run("HostileHitPlantedInOutbox", func(t *testing.T) {
		h.settled(t)
		before := h.state(t)
		h.msgRefused(t, "lyon-1", message{Kind: "hit", Role: notify.RoleOrigin, Hit: forgedHit("h-planted-origin", "lyon-1")}, 403, "wrong_sender")
		h.msgRefused(t, "lyon-1", message{Kind: "hit", Role: notify.RoleGS, Hit: forgedHit("h-planted-gs", "lyon-1")}, 403, "wrong_sender")
		h.msgRefused(t, "lyon-1", message{Kind: "carry", Role: notify.RoleNCB, Hit: forgedHit("h-planted-carry", "lyon-1")}, 403, "wrong_sender")
		h.assertUnchanged(t, before)
	})

	// (d) A hit naming edge-nbo as its origin, sent by the attacker without edge-nbo's signature,
	// directly and as a hit to carry.
	t.Run("HostileHitUnsignedFromNotOrigin", func(t *testing.T) {
		h.settled(t)
		before := h.state(t)
		h.msgRefused(t, "lyon-1", message{Kind: "hit", Role: notify.RoleGS, Hit: forgedHit("h-unsigned-gs", "edge-nbo")}, 403, "wrong_sender")
		h.msgRefused(t, "ncb-fr", message{Kind: "hit", Role: notify.RoleNCB, Hit: forgedHit("h-unsigned-ncb", "edge-nbo")}, 403, "wrong_sender")
		h.msgRefused(t, "lyon-2", message{Kind: "carry", Role: notify.RoleNCB, Hit: forgedHit("h-unsigned-carry", "edge-nbo")}, 403, "unsigned")
		h.assertUnchanged(t, before)
		for _, name := range []string{"lyon-1", "lyon-2", "ncb-fr"} {
			for _, id := range []string{"h-unsigned-gs", "h-unsigned-ncb", "h-unsigned-carry"} {
				if _, err := h.member(t, name).hits.Get(id); err == nil {
					t.Errorf("%s stores the forged hit %s", name, id)
				}
			}
		}
	})

	// (e) Signed material the attacker could have picked up as a carrier, with a field changed, or
	// signed by a member that may not say it. The signatures are made here with the real keys.
	t.Run("HostileSignedButTampered", func(t *testing.T) {
		h.settled(t)
		before := h.state(t)
		nbo, ncbFR, ncbKE := h.member(t, "edge-nbo"), h.member(t, "ncb-fr"), h.member(t, "ncb-ke")
		signed := forgedHit("h-signed", "edge-nbo")
		sig, err := notify.SignHit(nbo.fed.id.Key, signed)
		if err != nil {
			t.Fatal(err)
		}
		tampered := *signed
		tampered.Agency = "FR-DGSI"
		h.msgRefused(t, "lyon-1", message{Kind: "hit", Role: notify.RoleGS, Hit: &tampered, Sig: sig}, 403, "bad_signature")
		h.msgRefused(t, "lyon-3", message{Kind: "carry", Role: notify.RoleNCB, Hit: &tampered, Sig: sig}, 403, "bad_signature")
		// The attacker's own signature over a hit of edge-nbo.
		own, _ := notify.SignHit(h.attacker.fed.id.Key, signed)
		own.Signer = "edge-nbo"
		h.msgRefused(t, "lyon-1", message{Kind: "hit", Role: notify.RoleGS, Hit: signed, Sig: own}, 403, "bad_signature")
		// A receipt ncb-fr signed, with another time; one the attacker signed itself.
		out := notify.Decision{HitID: h.hitID, Decision: notify.Confirmed, DecidedBy: "FR-NCB", DecidedAt: time.Now().UTC()}
		at := time.Now().UTC()
		rsig, _ := notify.SignReceipt(ncbFR.fed.id.Key, "ncb-fr", h.hitID, notify.RoleNCB, at)
		h.msgRefused(t, "edge-nbo", message{Kind: "receipt", Role: notify.RoleNCB, HitID: h.hitID, StoredAt: at.Add(time.Second), Sig: rsig}, 403, "bad_signature")
		asig, _ := notify.SignReceipt(h.attacker.fed.id.Key, "edge-cdg", h.hitID, notify.RoleNCB, at)
		h.msgRefused(t, "edge-nbo", message{Kind: "receipt", Role: notify.RoleNCB, HitID: h.hitID, StoredAt: at, Sig: asig}, 403, "not_recipient")
		// A decision ncb-fr signed, turned around; one Kenya's NCB signed on a French hit.
		dsig, _ := notify.SignDecision(ncbFR.fed.id.Key, "ncb-fr", &out)
		turned := out
		turned.Decision = notify.Denied
		h.msgRefused(t, "edge-nbo", message{Kind: "decision", Role: notify.RoleOrigin, Decision: &turned, Sig: dsig}, 403, "bad_signature")
		ksig, _ := notify.SignDecision(ncbKE.fed.id.Key, "ncb-ke", &out)
		h.msgRefused(t, "edge-nbo", message{Kind: "decision", Role: notify.RoleOrigin, Decision: &out, Sig: ksig}, 403, "wrong_sender")
		h.assertUnchanged(t, before)

		// The untampered signed hit, relayed as a carrier would: taken, with a signed receipt, and
		// stored pending with only the receipts lyon-1 knows of (the sender's are ignored).
		ans := h.callAs(t, "lyon-1", transport.ProtoMessage, message{Kind: "hit", Role: notify.RoleGS, Hit: signed, Sig: sig})
		if ans.Error != nil {
			t.Fatalf("lyon-1 refused a hit with its origin's signature: %d %+v", ans.Status, ans.Error)
		}
		var ma messageAnswer
		if err := json.Unmarshal(ans.Body, &ma); err != nil || ma.Receipt == nil || ma.Receipt.Signer != "lyon-1" {
			t.Fatalf("answer to a carried hit: %s (%v), want lyon-1's signed receipt", ans.Body, err)
		}
		got, err := h.member(t, "lyon-1").hits.Get(signed.ID)
		if err != nil || got.Decision != notify.Pending || got.DecidedBy != "" || got.Receipts[notify.RoleNCB] != "" || got.Agency != "DE-BKA" {
			t.Fatalf("the carried hit at lyon-1: %+v %v, want it pending without the sender's receipts", got, err)
		}
		// An unsigned hit sent by its own origin (as every release delivers directly) is taken:
		// the stream proves the sender. Its decision and receipts are not.
		mine := forgedHit("h-attackers-own", "edge-cdg")
		if ans := h.callAs(t, "lyon-1", transport.ProtoMessage, message{Kind: "hit", Role: notify.RoleGS, Hit: mine}); ans.Error != nil {
			t.Fatalf("lyon-1 refused an unsigned hit from its origin: %d %+v", ans.Status, ans.Error)
		}
		if got, err := h.member(t, "lyon-1").hits.Get(mine.ID); err != nil || got.Decision != notify.Pending || got.Receipts[notify.RoleNCB] != "" {
			t.Fatalf("the origin's own hit at lyon-1: %+v %v, want it pending without the sender's receipts", got, err)
		}
	})

	// (f) Trace forgeries on a trace edge-nbo requested from FR (manufacture) and KE (import).
	t.Run("HostileTraceForgeries", func(t *testing.T) {
		tr := h.msgTrace(t)
		h.settled(t)
		before, traces := h.state(t), h.msgTraceState(t)
		// An answer from a node that is no NCB the trace names (edge-cdg is an FR edge).
		answered := tr
		answered.Answers = []notify.TraceAnswer{{Country: "FR", Agency: "FR-NCB", Text: "forged: destroyed 2019", At: time.Now().UTC()}}
		answered.Status = notify.TraceAnswered
		h.msgRefused(t, "edge-nbo", message{Kind: "trace", Role: "origin", Trace: &answered}, 403, "not_recipient")
		h.msgRefused(t, "lyon-1", message{Kind: "trace", Role: "gs", Trace: &answered}, 403, "not_recipient")
		// A close from a node that is neither the requester's nor central.
		closed := tr
		closed.Status = notify.TraceClosed
		h.msgRefused(t, "edge-nbo", message{Kind: "trace", Role: "origin", Trace: &closed}, 403, "not_requester")
		h.msgRefused(t, "ncb-ke", message{Kind: "trace", Role: "ncb:KE", Trace: &closed}, 403, "not_requester")
		// A new trace request in edge-nbo's name.
		fresh := tr
		fresh.ID, fresh.Receipts, fresh.OriginSig = "t-forged", map[string]string{}, nil
		h.msgRefused(t, "ncb-ke", message{Kind: "trace", Role: "ncb:KE", Trace: &fresh}, 403, "wrong_sender")
		fresh.OriginSig = tr.OriginSig // the real request's signature, on another id
		h.msgRefused(t, "ncb-ke", message{Kind: "trace", Role: "ncb:KE", Trace: &fresh}, 403, "bad_signature")
		// Answers with a signature: the attacker's own, claiming FR; FR's NCB's, with the text changed.
		a := notify.TraceAnswer{Country: "FR", Agency: "FR-NCB", Text: "sold 2012 to a dealer in Lyon", At: time.Now().UTC()}
		mine := a
		mine.Sig, _ = notify.SignAnswer(h.attacker.fed.id.Key, "edge-cdg", tr.ID, &mine)
		signedCopy := tr
		signedCopy.Answers = []notify.TraceAnswer{mine}
		h.msgRefused(t, "edge-nbo", message{Kind: "trace", Role: "origin", Trace: &signedCopy}, 403, "not_recipient")
		theirs := a
		theirs.Sig, _ = notify.SignAnswer(h.member(t, "ncb-fr").fed.id.Key, "ncb-fr", tr.ID, &theirs)
		theirs.Text = "destroyed 2019"
		signedCopy.Answers = []notify.TraceAnswer{theirs}
		h.msgRefused(t, "edge-nbo", message{Kind: "trace", Role: "origin", Trace: &signedCopy}, 403, "bad_signature")
		h.assertUnchanged(t, before)
		if after := h.msgTraceState(t); !mapsEqual(after, traces) {
			for name := range traces {
				if after[name] != traces[name] {
					t.Errorf("traces on %s changed:\nbefore:\n%s\nafter:\n%s", name, traces[name], after[name])
				}
			}
		}
		// FR's NCB's answer as it signed it, relayed by anyone (as another NCB's copy relays it):
		// taken, and the trace is answered.
		genuine := a
		genuine.Sig, _ = notify.SignAnswer(h.member(t, "ncb-fr").fed.id.Key, "ncb-fr", tr.ID, &genuine)
		signedCopy.Answers = []notify.TraceAnswer{genuine}
		if ans := h.callAs(t, "edge-nbo", transport.ProtoMessage, message{Kind: "trace", Role: "origin", Trace: &signedCopy}); ans.Error != nil {
			t.Fatalf("edge-nbo refused FR's signed answer: %d %+v", ans.Status, ans.Error)
		}
		if got, _ := h.member(t, "edge-nbo").hits.GetTrace(tr.ID); got.Status != notify.TraceAnswered || len(got.Answers) != 1 || got.Answers[0].Text != a.Text {
			t.Fatalf("the trace at its origin after FR's signed answer: %+v", got)
		}
	})

	// (b) A receipt for a hit the NCB never received: the origin keeps retrying and delivers once
	// the NCB is back.
	t.Run("HostileReceiptForged", func(t *testing.T) {
		ncb, origin := h.member(t, "ncb-fr"), h.member(t, "edge-nbo")
		ncb.fed.faults.Isolate(ncb.fed.id.ID)
		t.Cleanup(func() { ncb.fed.faults.Rejoin(ncb.fed.id.ID) })
		resp, err := origin.Search(context.Background(), auth.Principal{Agency: "KE-CUSTOMS", Country: "KE", Roles: []string{"searcher"}},
			wire.SearchRequest{Serial: "FRX000008"})
		if err != nil || len(resp.Results) == 0 || resp.Results[0].NotificationID == "" {
			t.Fatalf("no hit on FRX000008: %v %+v", err, resp)
		}
		id := resp.Results[0].NotificationID
		testutil.WaitFor(t, 20*time.Second, "the GS receipt", func() bool {
			x, err := origin.hits.Get(id)
			return err == nil && x.Receipts[notify.RoleGS] != ""
		})
		h.msgRefused(t, "edge-nbo", message{Kind: "receipt", Role: notify.RoleNCB, HitID: id, StoredAt: time.Now().UTC()}, 403, "not_recipient")
		// And on the attacker's own (honest) hit's copy elsewhere: no receipt for someone else's hit.
		h.msgRefused(t, "edge-nbo", message{Kind: "receipt", Role: notify.RoleGS, HitID: h.hitID, StoredAt: time.Now().UTC()}, 403, "not_recipient")
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if x, _ := origin.hits.Get(id); x.Receipts[notify.RoleNCB] != "" {
				t.Fatalf("the NCB receipt is set while the NCB is cut off: %q", x.Receipts[notify.RoleNCB])
			}
			time.Sleep(100 * time.Millisecond)
		}
		ncb.fed.faults.Rejoin(ncb.fed.id.ID)
		testutil.WaitFor(t, 60*time.Second, "the hit to be delivered", func() bool {
			x, err := origin.hits.Get(id)
			return err == nil && x.Delivered()
		})
		if _, err := ncb.hits.Get(id); err != nil {
			t.Fatalf("the origin's NCB receipt is in but ncb-fr does not hold the hit: %v", err)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// msgTrace has edge-nbo request a trace of an FR-made firearm last imported into KE, and waits
// until every recipient (gs, ncb:FR, ncb:KE) stored it.
func (h *hostileFed) msgTrace(t *testing.T) notify.Trace {
	t.Helper()
	origin := h.member(t, "edge-nbo")
	req := wire.TraceRequest{Firearm: &notify.Firearm{Serial: "FRX000011", Make: "Glock", CountryOfManufacture: "FR"}, LastImportCountry: "KE"}
	tr, err := origin.CreateTrace(context.Background(), auth.Principal{Agency: "KE-CUSTOMS", Country: "KE", Roles: []string{"searcher"}}, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr.Recipients, []string{"gs", "ncb:FR", "ncb:KE"}) {
		t.Fatalf("recipients %v", tr.Recipients)
	}
	testutil.WaitFor(t, 30*time.Second, "the trace's receipts", func() bool {
		got, err := origin.hits.GetTrace(tr.ID)
		if err != nil {
			return false
		}
		tr = got
		return got.Receipts["gs"] != "" && got.Receipts["ncb:FR"] != "" && got.Receipts["ncb:KE"] != ""
	})
	return tr
}
