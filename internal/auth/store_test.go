package auth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func openDB(t *testing.T, path string, readOnly bool) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second, ReadOnly: readOnly})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// clock ticks one minute per call from a fixed start.
func clock() func() time.Time {
	var mu sync.Mutex
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		at = at.Add(time.Minute)
		return at
	}
}

func newStore(t *testing.T) (*Store, *bbolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.db")
	db := openDB(t, path, false)
	s, err := OpenStore(db, clock())
	if err != nil {
		t.Fatal(err)
	}
	return s, db, path
}

func mustCreate(t *testing.T, s *Store, agency, country string, roles ...string) (string, Token) {
	t.Helper()
	secret, tok, err := s.Create(agency, country, roles, "test")
	if err != nil {
		t.Fatalf("create %s: %v", agency, err)
	}
	return secret, tok
}

func TestCreateAuthenticateListRevoke(t *testing.T) {
	s, _, _ := newStore(t)
	frSecret, fr := mustCreate(t, s, "FR-NCB", "FR", RoleRecorder, RoleSearcher)
	wcoSecret, wco := mustCreate(t, s, "WCO-I2C", "", RoleSearcher)

	p, err := s.Authenticate(frSecret)
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenID != fr.ID || p.Agency != "FR-NCB" || p.Country != "FR" || !p.Has(RoleRecorder) || p.Has(RoleAdmin) {
		t.Errorf("principal %+v does not match token %+v", p, fr)
	}
	if p, err := s.Authenticate(wcoSecret); err != nil || p.Agency != "WCO-I2C" || p.Country != "" {
		t.Errorf("wco: %+v %v", p, err)
	}

	list := s.List()
	if len(list) != 2 || list[0].ID != fr.ID || list[1].ID != wco.ID {
		t.Fatalf("list %+v, want fr then wco", list)
	}
	if !list[0].Created.Equal(time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)) {
		t.Errorf("created %v", list[0].Created)
	}

	if err := s.Revoke(fr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(frSecret); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked token: err %v, want ErrRevoked", err)
	}
	if _, err := s.Authenticate(wcoSecret); err != nil {
		t.Errorf("other token after revoke: %v", err)
	}
	got, err := s.Get(fr.ID)
	if err != nil || got.Revoked == nil {
		t.Fatalf("get revoked: %+v %v", got, err)
	}
	first := *got.Revoked
	if err := s.Revoke(fr.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if again, _ := s.Get(fr.ID); !again.Revoked.Equal(first) {
		t.Errorf("second revoke moved the time from %v to %v", first, again.Revoked)
	}
}

func TestRejectedSecrets(t *testing.T) {
	s, _, _ := newStore(t)
	secret, tok := mustCreate(t, s, "DE-NCB", "DE", RoleSearcher)
	_, stranger, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	// Same public id, different key: must not pass, and must not learn the token is known.
	keyAt := len("fa_0123456789ab_")
	swap := "A"
	if secret[keyAt] == 'A' {
		swap = "B"
	}
	forged := secret[:keyAt] + swap + secret[keyAt+1:]
	tests := []struct {
		name   string
		secret string
		want   error
	}{
		{"unknown id", stranger, ErrUnknownToken},
		{"known id, wrong key", forged, ErrUnknownToken},
		{"malformed", "Bearer " + secret, ErrMalformed},
		{"empty", "", ErrMalformed},
		{"truncated", secret[:20], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Authenticate(tt.secret); !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
	if err := s.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(forged); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("wrong key of a revoked token: err %v, want ErrUnknownToken", err)
	}
}

func TestNotFound(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.Revoke("0123456789ab"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke: %v, want ErrNotFound", err)
	}
	if _, err := s.Get("0123456789ab"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get: %v, want ErrNotFound", err)
	}
}

func TestCreateRejectsBadRequest(t *testing.T) {
	s, _, _ := newStore(t)
	_, _, err := s.Create("FR NCB", "FR", []string{RoleSearcher}, "")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "agency" || fe.Value != "FR NCB" {
		t.Fatalf("err %v, want a FieldError on agency naming the value", err)
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("%d tokens after a rejected create", n)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	s, db, path := newStore(t)
	keepSecret, keep := mustCreate(t, s, "KE-CUSTOMS", "KE", RoleSearcher, RoleOperator)
	goneSecret, gone := mustCreate(t, s, "GS-LYON", "", RoleAdmin)
	if err := s.Revoke(gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, readOnly := range []bool{false, true} {
		db := openDB(t, path, readOnly)
		s, err := OpenStore(db, clock())
		if err != nil {
			t.Fatalf("reopen (read-only %v): %v", readOnly, err)
		}
		p, err := s.Authenticate(keepSecret)
		if err != nil || p.TokenID != keep.ID || !p.Has(RoleOperator) {
			t.Errorf("read-only %v: kept token: %+v %v", readOnly, p, err)
		}
		if _, err := s.Authenticate(goneSecret); !errors.Is(err, ErrRevoked) {
			t.Errorf("read-only %v: revoked token: %v, want ErrRevoked", readOnly, err)
		}
		got, err := s.Get(keep.ID)
		if err != nil || got.Note != "test" || !got.Created.Equal(keep.Created) || len(got.Roles) != 2 {
			t.Errorf("read-only %v: token %+v, want %+v", readOnly, got, keep)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSecretNeverStored(t *testing.T) {
	s, db, path := newStore(t)
	var secrets []string
	for range 20 {
		secret, _ := mustCreate(t, s, "FR-NCB", "FR", RoleSearcher)
		secrets = append(secrets, secret)
	}
	if err := s.Revoke(s.List()[3].ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		key := secret[len("fa_0123456789ab_"):]
		if bytes.Contains(file, []byte(key)) {
			t.Fatalf("the key of %s... is in the database file", secret[:15])
		}
	}
	// The check would see a stored secret: the file does hold each public id.
	if !bytes.Contains(file, []byte(secrets[0][3:15])) {
		t.Fatal("token id not found in the file; the scan is not looking at the right bytes")
	}
}

func TestRevokeIsImmediateUnderLoad(t *testing.T) {
	s, _, _ := newStore(t)
	secret, tok := mustCreate(t, s, "FR-NCB", "FR", RoleSearcher)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					s.Authenticate(secret)
				}
			}
		})
	}
	if err := s.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Authenticate(secret)
	close(stop)
	wg.Wait()
	if !errors.Is(err, ErrRevoked) {
		t.Errorf("right after Revoke: %v, want ErrRevoked", err)
	}
}
