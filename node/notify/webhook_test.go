package notify

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// drainWebhook takes every queued event, in order, as the sender does.
func drainWebhook(t *testing.T, s *Store) []string {
	t.Helper()
	var ids []string
	for {
		key, body, ok, err := s.WebhookHead()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ids
		}
		var e WebhookEvent
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		if e.Hit.ID+"/"+e.Kind != e.ID {
			t.Fatalf("event %s carries hit %s, kind %s", e.ID, e.Hit.ID, e.Kind)
		}
		ids = append(ids, e.ID)
		if err := s.WebhookDone(key); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWebhookQueuesTheCountrysNewHitsAndDecisionsOnly(t *testing.T) {
	s, _, _ := openStore(t)
	if _, err := s.Receive(hit("before"), RoleNCB); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWebhookScope("FR"); err != nil {
		t.Fatal(err)
	}
	de := hit("de1")
	de.RecordingCountry = "DE"
	for _, h := range []Hit{hit("h1"), de, hit("h2")} {
		if _, err := s.Receive(h, RoleNCB); err != nil {
			t.Fatal(err)
		}
	}
	// A redelivery, a receipt, a refused second decision: nothing new for the receiver.
	if _, err := s.Receive(hit("h1"), RoleNCB); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReceipt("h2", RoleGS, time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	d := Decision{HitID: "h1", Decision: Confirmed, DecidedBy: "FR-NCB", DecidedAt: time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)}
	if _, err := s.Decide(d, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(Decision{HitID: "h1", Decision: Denied}, nil); err == nil {
		t.Fatal("a second decision was taken")
	}
	if err := s.ReceiveDecision(Decision{HitID: "before", Decision: Denied}); err != nil {
		t.Fatal(err)
	}
	if q, _ := s.WebhookQueue(); q != 4 {
		t.Fatalf("queue %d, want 4", q)
	}
	got := drainWebhook(t, s)
	want := []string{"h1/hit", "h2/hit", "h1/decision", "before/decision"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	// Without a scope nothing more is queued.
	if err := s.SetWebhookScope(""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(hit("h3"), RoleNCB); err != nil {
		t.Fatal(err)
	}
	if q, _ := s.WebhookQueue(); q != 0 {
		t.Fatalf("queued %d events without a scope", q)
	}
}

func TestWebhookFromTheInboxPutsAHitBeforeItsDecision(t *testing.T) {
	s, _, _ := openStore(t)
	if err := s.SetWebhookScope(WebhookAll); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	// The decision is committed before the hit reaches the inbox: the hit comes with it.
	d := Decision{HitID: "h1", Decision: Denied, DecidedBy: "FR-NCB", DecidedVia: "ncb-fr", DecidedAt: at}
	h := hit("h1")
	entries := [][]byte{
		item(t, InboxItem{V: InboxFormat, Kind: InboxDecision, Decision: &d, At: at}),
		item(t, InboxItem{V: InboxFormat, Kind: InboxHit, Hit: &h, At: at}),
		item(t, InboxItem{V: InboxFormat, Kind: InboxHit, Hit: &h, At: at}),
	}
	if _, err := s.ApplyInbox(entries, 3); err != nil {
		t.Fatal(err)
	}
	if got, want := drainWebhook(t, s), []string{"h1/hit", "h1/decision"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestWebhookQueueIsBoundedAndCountsWhatItDrops(t *testing.T) {
	defer func(m uint64) { webhookQueueMax = m }(webhookQueueMax)
	webhookQueueMax = 3
	s, _, _ := openStore(t)
	if err := s.SetWebhookScope(WebhookAll); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"h1", "h2", "h3", "h4", "h5"} {
		if _, err := s.Receive(hit(id), RoleGS); err != nil {
			t.Fatal(err)
		}
	}
	if q, dropped := s.WebhookQueue(); q != 3 || dropped != 2 {
		t.Fatalf("queue %d dropped %d, want 3 and 2", q, dropped)
	}
	// Room again once the head is taken; every hit stays stored either way.
	key, _, _, _ := s.WebhookHead()
	if err := s.WebhookDone(key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(hit("h6"), RoleGS); err != nil {
		t.Fatal(err)
	}
	if got, want := drainWebhook(t, s), []string{"h2/hit", "h3/hit", "h6/hit"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if _, err := s.Get("h5"); err != nil {
		t.Fatalf("a hit whose event was dropped: %v", err)
	}
}

func TestWebhookQueueSurvivesAForeignKey(t *testing.T) {
	s, db, _ := openStore(t)
	if err := s.SetWebhookScope(WebhookAll); err != nil {
		t.Fatal(err)
	}
	// A key this release never writes (a damaged or edited file) is sent and removed like any
	// other, never stalls the queue nor panics.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketWebhook).Put([]byte("x"), []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(hit("h1"), RoleGS); err != nil {
		t.Fatal(err)
	}
	s.WebhookQueue()
	var bodies []string
	for {
		key, body, ok, err := s.WebhookHead()
		if err != nil || !ok {
			break
		}
		bodies = append(bodies, string(body))
		if err := s.WebhookDone(key); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 2 {
		t.Fatalf("bodies %q, want the hit's and the foreign one", bodies)
	}
}
