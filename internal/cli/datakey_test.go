package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/seal"
)

func TestDoctorAtRestNamesPlainAndUnsealedDirs(t *testing.T) {
	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "node.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if f := checkAtRest(plain, config.Storage{}); f.Status != checkWarn || !strings.Contains(f.Fix, "storage encrypt") {
		t.Fatalf("plain dir: %+v", f)
	}
	unsealed := t.TempDir()
	if _, _, err := seal.CreateKey(unsealed, nil); err != nil {
		t.Fatal(err)
	}
	if f := checkAtRest(unsealed, config.Storage{}); f.Status != checkWarn || !strings.Contains(f.Fix, "credential") {
		t.Fatalf("unsealed key: %+v", f)
	}
	pass := filepath.Join(t.TempDir(), "p")
	os.WriteFile(pass, []byte("pw"), 0o600)
	secret, err := seal.ReadSecret(pass, "")
	if err != nil {
		t.Fatal(err)
	}
	sealed := t.TempDir()
	if _, _, err := seal.CreateKey(sealed, secret); err != nil {
		t.Fatal(err)
	}
	if f := checkAtRest(sealed, config.Storage{}); f.Status != checkOK || !strings.Contains(f.Detail, "passphrase") {
		t.Fatalf("sealed key: %+v", f)
	}
}
