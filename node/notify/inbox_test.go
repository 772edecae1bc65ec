package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func item(t *testing.T, it InboxItem) []byte {
	t.Helper()
	it.V = InboxFormat
	b, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApplyInboxStoresOnceAndTheFirstDecisionWins(t *testing.T) {
	s, _, _ := openStore(t)
	t1 := time.Date(2026, 11, 25, 9, 0, 1, 0, time.UTC)
	h := hit("h1")
	h.Decision, h.DecidedBy = Confirmed, "FORGED" // what only a recipient sets is not taken
	confirm := Decision{HitID: "h1", Decision: Confirmed, DecidedBy: "FR-NCB", DecidedVia: "ncb-fr", DecidedAt: t1}
	deny := Decision{HitID: "h1", Decision: Denied, DecidedBy: "FR-NCB", DecidedVia: "ncb-fr-2", DecidedAt: t1}
	// A decision committed before the hit (the hit reached the GS late) is in force once it comes.
	outs, err := s.ApplyInbox([][]byte{
		item(t, InboxItem{Kind: InboxDecision, Decision: &deny}),
		item(t, InboxItem{Kind: InboxHit, Hit: &h, At: t1}),
		item(t, InboxItem{Kind: InboxDecision, Decision: &confirm}),
		item(t, InboxItem{Kind: InboxHit, Hit: &h, At: t1.Add(time.Hour)}),
		[]byte(`{"v":1,"kind":"hit"}`),
		[]byte(`{"v":9,"kind":"hit"}`),
		[]byte(`not json`),
	}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Winner == nil || outs[0].Winner.Decision != Denied || outs[2].Winner.Decision != Denied {
		t.Fatalf("winners %+v %+v, want the first decision (denied) both times", outs[0].Winner, outs[2].Winner)
	}
	if !outs[1].StoredAt.Equal(t1) || !outs[3].StoredAt.Equal(t1) {
		t.Fatalf("stored at %v then %v, want the first commit time %v both times", outs[1].StoredAt, outs[3].StoredAt, t1)
	}
	for i := 4; i < 7; i++ {
		if outs[i].Refused == "" {
			t.Fatalf("entry %d: %+v, want it refused as an item", i, outs[i])
		}
	}
	got, err := s.Get("h1")
	if err != nil || got.Decision != Denied || got.DecidedVia != "ncb-fr-2" || got.Receipts[RoleGS] != t1.Format(time.RFC3339Nano) {
		t.Fatalf("held: %+v %v", got, err)
	}
	if s.InboxApplied() != 7 {
		t.Fatalf("applied index %d, want 7", s.InboxApplied())
	}
}

func TestInboxSnapshotRestoresIntoAnotherStore(t *testing.T) {
	src, _, _ := openStore(t)
	t1 := time.Date(2026, 11, 25, 9, 0, 1, 0, time.UTC)
	var entries [][]byte
	// More than a chunk of hits, so the snapshot is read in several transactions.
	for i := 0; i < snapshotChunk+150; i++ {
		h := hit(fmt.Sprintf("h%05d", i))
		entries = append(entries, item(t, InboxItem{Kind: InboxHit, Hit: &h, At: t1.Add(time.Duration(i) * time.Millisecond)}))
		if i%3 == 0 {
			d := Decision{HitID: h.ID, Decision: Confirmed, DecidedBy: "FR-NCB", DecidedVia: "ncb-fr", DecidedAt: t1}
			entries = append(entries, item(t, InboxItem{Kind: InboxDecision, Decision: &d}))
		}
	}
	tr := Trace{ID: "t1", Origin: "edge-cdg", Recipients: []string{"gs", "ncb:FR"}, Status: TraceOpen}
	entries = append(entries, item(t, InboxItem{Kind: InboxTrace, Trace: &tr, At: t1}))
	if _, err := src.ApplyInbox(entries, uint64(len(entries))); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := src.SnapshotInbox().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	dst, _, _ := openStore(t)
	// The receiving store already holds one of the hits, decided otherwise: the snapshot's first
	// decision is the one in force.
	h0 := hit("h00000")
	d0 := Decision{HitID: "h00000", Decision: Denied, DecidedBy: "X", DecidedVia: "ncb-fr-2", DecidedAt: t1}
	if _, err := dst.Receive(h0, RoleNCB); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Settle(d0, nil); err != nil {
		t.Fatal(err)
	}
	if err := dst.RestoreInbox(uint64(len(entries)), &buf); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < snapshotChunk+150; i++ {
		a, _ := src.Get(fmt.Sprintf("h%05d", i))
		b, err := dst.Get(a.ID)
		if err != nil || b.Decision != a.Decision || b.Receipts[RoleGS] != a.Receipts[RoleGS] {
			t.Fatalf("hit %s: restored %+v %v, want %+v", a.ID, b, err, a)
		}
	}
	if got, _ := dst.GetTrace("t1"); got.Receipts[RoleGS] == "" {
		t.Fatalf("trace: %+v", got)
	}
	if dst.InboxApplied() != uint64(len(entries)) {
		t.Fatalf("applied %d, want %d", dst.InboxApplied(), len(entries))
	}
	if items, next, err := dst.InboxMissing("", 10); err != nil || len(items) != 0 || next != "" {
		t.Fatalf("missing after restore: %d items, next %q, %v", len(items), next, err)
	}
}

func TestInboxMissingListsWhatAnOlderReleaseStored(t *testing.T) {
	s, _, _ := openStore(t)
	for i := 0; i < 5; i++ {
		if _, err := s.Receive(hit(fmt.Sprintf("h%d", i)), RoleGS); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Receive(hit("ncb-only"), RoleNCB); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceiveDecision(Decision{HitID: "h1", Decision: Denied, DecidedBy: "FR-NCB", DecidedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var all []InboxItem
	from := ""
	for {
		items, next, err := s.InboxMissing(from, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			break
		}
		from = next
	}
	kinds := map[string]int{}
	for _, it := range all {
		kinds[it.Kind]++
	}
	if kinds[InboxHit] != 5 || kinds[InboxDecision] != 1 {
		t.Fatalf("missing: %v, want the 5 GS hits and the one decision", kinds)
	}
}
