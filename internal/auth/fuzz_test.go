package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for what the token store reads: its records in node.db, and the bearer secrets every
// API request presents. scripts/fuzz.sh runs them for longer.

// FuzzTokenRecord decodes arbitrary bytes as a token record from node.db. What decodes is written
// back by put as a record that decodes the same.
func FuzzTokenRecord(f *testing.F) {
	revoked := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, st := range []stored{
		{Token: Token{ID: "0123456789ab", Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder", "searcher"},
			Note: "bureau", Created: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}, SecretSHA256: strings.Repeat("ab", 32)},
		{Token: Token{ID: "ba9876543210", Agency: "IPSG", Roles: []string{"admin"}, Revoked: &revoked}, SecretSHA256: strings.Repeat("00", 32)},
	} {
		b, _ := json.Marshal(st)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","secret_sha256":"zz"}`))
	f.Add([]byte(`{"id":"x","secret_sha256":"` + strings.Repeat("a", 63) + `"}`))
	f.Add([]byte(`{"id":"x","revoked":null,"roles":null,"secret_sha256":"` + strings.Repeat("A", 64) + `"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		h, err := decode(v)
		if err != nil {
			return
		}
		again, err := json.Marshal(stored{Token: h.token, SecretSHA256: hexOf(h.hash[:])})
		if err != nil {
			t.Fatalf("a token that loaded cannot be stored again: %v", err)
		}
		back, err := decode(again)
		if err != nil {
			t.Fatalf("%s does not decode: %v", again, err)
		}
		a, _ := json.Marshal(h.token)
		b, _ := json.Marshal(back.token)
		if string(a) != string(b) || back.hash != h.hash {
			t.Fatalf("token %s comes back as %s", a, b)
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// FuzzParseSecret reads arbitrary strings as a bearer secret. A secret that parses names the id it
// starts with, and every secret the store makes parses.
func FuzzParseSecret(f *testing.F) {
	_, secret, err := newSecret()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(secret)
	f.Add(secret[:len(secret)-1] + "=")
	f.Add(strings.ToUpper(secret))
	f.Add("fa_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseSecret(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(s, secretPrefix+id+"_") || len(s) != secretLen {
			t.Fatalf("secret %q parsed as id %q", s, id)
		}
	})
}
