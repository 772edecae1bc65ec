package notify

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// edKey and edPub stand for a node's libp2p identity key in these tests.
type edKey ed25519.PrivateKey

func (k edKey) Sign(b []byte) ([]byte, error) { return ed25519.Sign(ed25519.PrivateKey(k), b), nil }

type edPub ed25519.PublicKey

func (p edPub) Verify(b, sig []byte) (bool, error) {
	return ed25519.Verify(ed25519.PublicKey(p), b, sig), nil
}

func newKey(t *testing.T) (edKey, edPub) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return edKey(priv), edPub(pub)
}

func signedHit() Hit {
	h := hit("h1")
	h.SearchID, h.Agency, h.OnBehalfOf, h.Score = "s1", "FR-DOUANE", "KE-CUSTOMS", 0.97
	h.Why = map[string]string{"serial": "exact", "make": "alias"}
	h.Urgent = true
	return h
}

func TestHitSignatureCoversWhatTheOriginSet(t *testing.T) {
	key, pub := newKey(t)
	_, otherPub := newKey(t)
	h := signedHit()
	sig, err := SignHit(key, &h)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyHit(pub, &h, sig); err != nil {
		t.Fatalf("a hit as signed: %v", err)
	}
	// It survives the trip through JSON (stored, sent, stored again), times in any zone.
	h.SearchedAt = h.SearchedAt.In(time.FixedZone("EAT", 3*3600))
	b, _ := json.Marshal(h)
	var back Hit
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyHit(pub, &back, sig); err != nil {
		t.Fatalf("the same hit after JSON: %v", err)
	}
	tampered := map[string]func(*Hit){
		"id":                func(h *Hit) { h.ID = "h2" },
		"record_id":         func(h *Hit) { h.RecordID = "FR-2" },
		"recording_country": func(h *Hit) { h.RecordingCountry = "DE" },
		"search_id":         func(h *Hit) { h.SearchID = "s2" },
		"agency":            func(h *Hit) { h.Agency = "DE-BKA" },
		"on_behalf_of":      func(h *Hit) { h.OnBehalfOf = "" },
		"searched_at":       func(h *Hit) { h.SearchedAt = h.SearchedAt.Add(time.Nanosecond) },
		"score":             func(h *Hit) { h.Score = 0.98 },
		"why":               func(h *Hit) { h.Why["serial"] = "1 confusable" },
		"late":              func(h *Hit) { h.Late = true },
		"urgent":            func(h *Hit) { h.Urgent = false },
		"deadline":          func(h *Hit) { h.Deadline = h.Deadline.Add(time.Hour) },
	}
	for field, change := range tampered {
		x := signedHit()
		x.Why = map[string]string{"serial": "exact", "make": "alias"}
		change(&x)
		if err := VerifyHit(pub, &x, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: %v, want ErrBadSignature", field, err)
		}
	}
	// What recipients set is not the origin's to sign.
	x := signedHit()
	x.Decision, x.DecidedBy, x.Comment, x.Receipts = Confirmed, "FR-NCB", "seized", map[string]string{RoleGS: "now"}
	if err := VerifyHit(pub, &x, sig); err != nil {
		t.Errorf("decision and receipts changed: %v, want the signature to hold", err)
	}
	// Another origin: the signer named is not the hit's origin.
	x = signedHit()
	x.Origin = "edge-nbo"
	if err := VerifyHit(pub, &x, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("origin changed: %v", err)
	}
	if err := VerifyHit(otherPub, &h, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another member's key: %v", err)
	}
	if err := VerifyHit(pub, &h, nil); !errors.Is(err, ErrUnsigned) {
		t.Errorf("no signature: %v, want ErrUnsigned", err)
	}
	if err := VerifyHit(pub, &h, &Signature{Version: 1, Signer: h.Origin}); !errors.Is(err, ErrUnsigned) {
		t.Errorf("an empty signature: %v, want ErrUnsigned", err)
	}
	later := *sig
	later.Version = 2
	if err := VerifyHit(pub, &h, &later); !errors.Is(err, ErrBadSignature) {
		t.Errorf("an unknown version: %v", err)
	}
}

func TestReceiptDecisionTraceAndAnswerSignatures(t *testing.T) {
	key, pub := newKey(t)
	_, otherPub := newKey(t)
	at := time.Date(2026, 11, 25, 9, 0, 1, 5, time.UTC)
	rs, _ := SignReceipt(key, "ncb-fr", "h1", RoleNCB, at)
	if err := VerifyReceipt(pub, rs, "h1", RoleNCB, at); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	for name, err := range map[string]error{
		"hit":     VerifyReceipt(pub, rs, "h2", RoleNCB, at),
		"role":    VerifyReceipt(pub, rs, "h1", RoleGS, at),
		"time":    VerifyReceipt(pub, rs, "h1", RoleNCB, at.Add(time.Second)),
		"signer":  VerifyReceipt(pub, &Signature{Version: 1, Signer: "lyon-1", Sig: rs.Sig}, "h1", RoleNCB, at),
		"key":     VerifyReceipt(otherPub, rs, "h1", RoleNCB, at),
		"a hit's": VerifyHit(pub, &Hit{ID: "h1", Origin: "ncb-fr"}, rs),
	} {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("receipt with another %s: %v", name, err)
		}
	}

	d := Decision{HitID: "h1", Decision: Confirmed, Comment: "seized", DecidedBy: "FR-NCB", DecidedAt: at}
	ds, _ := SignDecision(key, "ncb-fr", &d)
	if err := VerifyDecision(pub, ds, &d); err != nil {
		t.Fatalf("decision: %v", err)
	}
	via := d
	via.DecidedVia = "lyon-1" // set by each receiver, not signed
	if err := VerifyDecision(pub, ds, &via); err != nil {
		t.Fatalf("decision with decided_via: %v", err)
	}
	for name, change := range map[string]func(*Decision){
		"hit":        func(d *Decision) { d.HitID = "h2" },
		"decision":   func(d *Decision) { d.Decision = Denied },
		"comment":    func(d *Decision) { d.Comment = "" },
		"decided_by": func(d *Decision) { d.DecidedBy = "DE-NCB" },
		"decided_at": func(d *Decision) { d.DecidedAt = at.Add(time.Minute) },
	} {
		x := d
		change(&x)
		if err := VerifyDecision(pub, ds, &x); !errors.Is(err, ErrBadSignature) {
			t.Errorf("decision with another %s: %v", name, err)
		}
	}

	tr := Trace{ID: "t1", Firearm: Firearm{Serial: "AK1", Make: "Izhmash", CountryOfManufacture: "KE"}, LastImportCountry: "FR",
		RequestedBy: "FR-DOUANE", RequesterCountry: "FR", Origin: "edge-cdg", CreatedAt: at, Recipients: []string{"gs", "ncb:FR", "ncb:KE"}}
	tr.OriginSig, _ = SignTrace(key, &tr)
	if err := VerifyTrace(pub, &tr); err != nil {
		t.Fatalf("trace: %v", err)
	}
	moved := tr
	moved.Recipients = []string{"ncb:KE", "gs", "ncb:FR"} // a set: order does not count
	moved.Status, moved.Answers, moved.Receipts = TraceClosed, []TraceAnswer{{Country: "KE"}}, map[string]string{"gs": "x"}
	if err := VerifyTrace(pub, &moved); err != nil {
		t.Fatalf("trace reordered, answered and closed: %v", err)
	}
	for name, change := range map[string]func(*Trace){
		"serial":     func(t *Trace) { t.Firearm.Serial = "AK2" },
		"import":     func(t *Trace) { t.LastImportCountry = "DE" },
		"requester":  func(t *Trace) { t.RequestedBy = "DE-BKA" },
		"recipients": func(t *Trace) { t.Recipients = []string{"gs", "ncb:KE"} },
		"created_at": func(t *Trace) { t.CreatedAt = at.Add(time.Second) },
		"origin":     func(t *Trace) { t.Origin = "edge-nbo" },
	} {
		x := tr
		change(&x)
		if err := VerifyTrace(pub, &x); !errors.Is(err, ErrBadSignature) {
			t.Errorf("trace with another %s: %v", name, err)
		}
	}

	a := TraceAnswer{Country: "KE", Agency: "KE-NCB", Text: "exported 2009", At: at}
	a.Sig, _ = SignAnswer(key, "ncb-ke", "t1", &a)
	if err := VerifyAnswer(pub, "t1", &a); err != nil {
		t.Fatalf("answer: %v", err)
	}
	if err := VerifyAnswer(pub, "t2", &a); !errors.Is(err, ErrBadSignature) {
		t.Errorf("answer moved to another trace: %v", err)
	}
	x := a
	x.Text = "destroyed"
	if err := VerifyAnswer(pub, "t1", &x); !errors.Is(err, ErrBadSignature) {
		t.Errorf("answer with another text: %v", err)
	}
	x = a
	x.Country = "FR"
	if err := VerifyAnswer(pub, "t1", &x); !errors.Is(err, ErrBadSignature) {
		t.Errorf("answer for another country: %v", err)
	}
}

func TestReceiveIgnoresWhatOnlyARecipientSets(t *testing.T) {
	s, _, now := openStore(t)
	h := hit("h1")
	h.Decision, h.DecidedBy, h.DecidedVia, h.Comment, h.DecidedAt = Confirmed, "FR-NCB", "ncb-fr", "seized", *now
	h.Receipts = map[string]string{RoleGS: "2026-11-25T09:00:00Z", RoleNCB: "2026-11-25T09:00:00Z", RoleOrigin: "2026-11-25T09:00:00Z"}
	if _, err := s.Receive(h, RoleGS); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get("h1")
	if got.Decision != Pending || got.DecidedBy != "" || got.DecidedVia != "" || got.Comment != "" || !got.DecidedAt.IsZero() {
		t.Fatalf("the sender's decision was taken: %+v", got)
	}
	if got.Receipts[RoleNCB] != "" || got.Receipts[RoleGS] != now.Format(time.RFC3339Nano) || got.Receipts[RoleOrigin] == "" {
		t.Fatalf("receipts %v: want this node's own and the origin's", got.Receipts)
	}
	if err := s.ReceiveDecision(Decision{HitID: "h1", Decision: "maybe"}); !errors.Is(err, ErrBadDecision) {
		t.Fatalf("a decision neither confirmed nor denied: %v", err)
	}
}

func TestReceiveTraceTakesNoReceiptsNorEmptyAnswered(t *testing.T) {
	s, _, _ := openStore(t)
	tr := Trace{ID: "t1", Origin: "edge-cdg", Status: TraceAnswered, Recipients: []string{"gs"},
		Receipts: map[string]string{"gs": "x", "ncb:KE": "y"}, SendTo: []string{"gs"}}
	if _, err := s.ReceiveTrace(tr, "gs"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetTrace("t1")
	if got.Status != TraceOpen || got.Receipts["ncb:KE"] != "" || got.Receipts["gs"] == "x" || len(got.SendTo) != 0 {
		t.Fatalf("stored %+v: want open, its own receipt only", got)
	}
	tr.Answers = []TraceAnswer{{Country: "KE", Text: "exported", At: time.Now()}}
	if _, err := s.ReceiveTrace(tr, "gs"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetTrace("t1"); got.Status != TraceAnswered || len(got.Answers) != 1 {
		t.Fatalf("after an answer %+v", got)
	}
}

func TestCarryKeepsTheSignatures(t *testing.T) {
	s, _, now := openStore(t)
	key, pub := newKey(t)
	h := hit("h1")
	sig, _ := SignHit(key, &h)
	if err := s.Carry(h, RoleNCB, sig); err != nil {
		t.Fatal(err)
	}
	rs, _ := SignReceipt(key, "ncb-fr", "h1", RoleNCB, *now)
	if err := s.CarryDelivered("h1", RoleNCB, *now, rs); err != nil {
		t.Fatal(err)
	}
	items, _ := s.CarriedItems()
	if len(items) != 1 {
		t.Fatalf("carried %+v", items)
	}
	c := items[0]
	if err := VerifyHit(pub, &c.Hit, c.OriginSig); err != nil {
		t.Fatalf("the carried hit's signature: %v", err)
	}
	if err := VerifyReceipt(pub, c.Receipt, "h1", RoleNCB, c.StoredAt); err != nil {
		t.Fatalf("the carried receipt's signature: %v", err)
	}
}
