package auth

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// settable is a clock the test moves by hand.
type settable struct {
	mu sync.Mutex
	at time.Time
}

func (c *settable) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *settable) add(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

func TestTokenExpires(t *testing.T) {
	c := &settable{at: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	s, err := OpenStore(openDB(t, filepath.Join(t.TempDir(), "node.db"), false), c.now)
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := s.Issue(Request{Agency: "FR-DOUANE", Country: "FR", Roles: []string{RoleSearcher}, TTL: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Expires == nil || !tok.Expires.Equal(c.at.Add(90*24*time.Hour)) {
		t.Fatalf("expires %v, want 90 days after creation", tok.Expires)
	}
	c.add(90*24*time.Hour - time.Second)
	if _, err := s.Authenticate(secret); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	c.add(time.Second)
	if _, err := s.Authenticate(secret); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	forever, _, err := s.Issue(Request{Agency: "GS-OPS", Roles: []string{RoleOperator}})
	if err != nil {
		t.Fatal(err)
	}
	c.add(20 * 365 * 24 * time.Hour)
	if _, err := s.Authenticate(forever); err != nil {
		t.Fatalf("a token without ttl: %v", err)
	}
}

func TestTokenLastUseShownAndKept(t *testing.T) {
	c := &settable{at: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "node.db")
	db := openDB(t, path, false)
	s, err := OpenStore(db, c.now)
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := s.Issue(Request{Agency: "FR-NCB", Country: "FR", Roles: []string{RoleRecorder}})
	if err != nil {
		t.Fatal(err)
	}
	if tok.LastUsed != nil {
		t.Fatalf("a new token shows a last use: %v", tok.LastUsed)
	}
	c.add(time.Hour)
	if _, err := s.Authenticate(secret); err != nil {
		t.Fatal(err)
	}
	used := c.now()
	if got, _ := s.Get(tok.ID); got.LastUsed == nil || !got.LastUsed.Equal(used) {
		t.Fatalf("last use %v, want %v", got.LastUsed, used)
	}
	if err := s.FlushLastUse(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s2, err := OpenStore(openDB(t, path, false), c.now)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Get(tok.ID); got.LastUsed == nil || !got.LastUsed.Equal(used) {
		t.Fatalf("after a restart, last use %v, want %v", got.LastUsed, used)
	}
}

func TestIssueChecksTTLAndAgencies(t *testing.T) {
	s, _, _ := newStore(t)
	for name, req := range map[string]Request{
		"negative ttl":         {Agency: "WCO-I2C", Roles: []string{RoleSearcher}, TTL: -time.Hour},
		"ttl over ten years":   {Agency: "WCO-I2C", Roles: []string{RoleSearcher}, TTL: 11 * 365 * 24 * time.Hour},
		"not an agency":        {Agency: "WCO-I2C", Roles: []string{RoleSearcher}, OnBehalfOf: []string{"ke customs"}},
		"empty agency in list": {Agency: "WCO-I2C", Roles: []string{RoleSearcher}, OnBehalfOf: []string{""}},
	} {
		_, _, err := s.Issue(req)
		var fe *FieldError
		if !errors.As(err, &fe) || (fe.Field != "ttl" && fe.Field != "on_behalf_of") {
			t.Errorf("%s: %v, want a field error on ttl or on_behalf_of", name, err)
		}
	}
	secret, tok, err := s.Issue(Request{Agency: "WCO-I2C", Roles: []string{RoleSearcher}, OnBehalfOf: []string{"UG-CUSTOMS", "KE-CUSTOMS", "UG-CUSTOMS"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.OnBehalfOf) != 2 || tok.OnBehalfOf[0] != "KE-CUSTOMS" {
		t.Fatalf("on_behalf_of %v, want sorted and deduplicated", tok.OnBehalfOf)
	}
	p, err := s.Authenticate(secret)
	if err != nil {
		t.Fatal(err)
	}
	for agency, want := range map[string]bool{"": true, "WCO-I2C": true, "KE-CUSTOMS": true, "UG-CUSTOMS": true, "DE-NCB": false, "ke-customs": false} {
		if got := p.MayActFor(agency); got != want {
			t.Errorf("MayActFor(%q) = %v, want %v", agency, got, want)
		}
	}
	if admin := (Principal{Agency: "GS-ADMIN", Roles: []string{RoleAdmin}}); !admin.MayActFor("DE-NCB") {
		t.Error("an admin may not act for an agency")
	}
}
