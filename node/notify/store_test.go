package notify

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openStore(t *testing.T) (*Store, *bolt.DB, *time.Time) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s, err := Open(db, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s, db, &now
}

func hit(id string) Hit {
	return Hit{ID: id, RecordID: "FR-1", RecordingCountry: "FR", Origin: "edge-cdg", Decision: Pending,
		SearchedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), Deadline: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Receipts: map[string]string{RoleGS: "", RoleNCB: "", RoleOrigin: "2026-11-25T09:00:00Z"}}
}

func TestReceiveStoresOnceAndRepeatsTheReceipt(t *testing.T) {
	s, _, now := openStore(t)
	first, err := s.Receive(hit("h1"), RoleGS)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(time.Minute)
	again, err := s.Receive(hit("h1"), RoleGS)
	if err != nil || !again.Equal(first) {
		t.Fatalf("redelivery: %v %v, want the first receipt %v", again, err, first)
	}
	all, _ := s.List(func(*Hit) bool { return true })
	if len(all) != 1 || all[0].Receipts[RoleGS] == "" {
		t.Fatalf("inbox %+v", all)
	}
}

func TestOutboxUntilEveryReceipt(t *testing.T) {
	s, db, _ := openStore(t)
	db.Update(func(tx *bolt.Tx) error { return PutTx(tx, []Hit{hit("h1"), hit("h2")}) })
	out, _ := s.Outbox("edge-cdg")
	if len(out) != 2 {
		t.Fatalf("outbox %d", len(out))
	}
	s.SetReceipt("h1", RoleGS, time.Now())
	s.SetReceipt("h1", RoleNCB, time.Now())
	out, _ = s.Outbox("edge-cdg")
	if len(out) != 1 || out[0].ID != "h2" {
		t.Fatalf("outbox after receipts %+v", out)
	}
	if err := s.SetReceipt("nope", RoleGS, time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("receipt of unknown hit: %v", err)
	}
}

func TestDecisionQueuedAndOverdue(t *testing.T) {
	s, _, now := openStore(t)
	s.Receive(hit("h1"), RoleNCB)
	h, _ := s.Get("h1")
	if !h.Overdue(now.Add(time.Second)) || h.Overdue(now.Add(-time.Hour)) {
		t.Fatal("overdue wrong")
	}
	feed, stop := s.Subscribe()
	defer stop()
	if _, err := s.Decide(Decision{HitID: "h1", Decision: "maybe"}, nil); !errors.Is(err, ErrBadDecision) {
		t.Fatalf("bad decision: %v", err)
	}
	d := Decision{HitID: "h1", Decision: Confirmed, DecidedBy: "FR-NCB", DecidedAt: *now}
	h, err := s.Decide(d, []string{RoleOrigin, RoleGS})
	if err != nil || h.Decision != Confirmed || h.Overdue(now.Add(time.Hour)) {
		t.Fatalf("decide: %v %+v", err, h)
	}
	if _, err := s.Decide(d, nil); !errors.Is(err, ErrDecided) {
		t.Fatalf("second decision: %v", err)
	}
	select {
	case got := <-feed:
		if got.Decision != Confirmed {
			t.Fatalf("feed %+v", got)
		}
	case <-time.After(time.Second):
		t.Fatal("no event for the decision")
	}
	out, _ := s.DecisionsOut()
	if len(out) != 2 {
		t.Fatalf("decisions out %+v", out)
	}
	s.DecisionDelivered("h1", RoleGS)
	out, _ = s.DecisionsOut()
	if len(out) != 1 || out[0].Role != RoleOrigin {
		t.Fatalf("after delivery %+v", out)
	}
	// A copy elsewhere takes the routed decision once.
	other, _, _ := openStore(t)
	other.Receive(hit("h1"), RoleGS)
	if err := other.ReceiveDecision(d); err != nil {
		t.Fatal(err)
	}
	if g, _ := other.Get("h1"); g.Decision != Confirmed || g.DecidedBy != "FR-NCB" {
		t.Fatalf("routed decision %+v", g)
	}
	if err := other.ReceiveDecision(Decision{HitID: "missing", Decision: Denied}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("decision for an unknown hit: %v", err)
	}
}
