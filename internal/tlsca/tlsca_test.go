package tlsca

import (
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIssueChainsToTheCA: a node's certificate verifies against the CA for its hosts only, a second
// CA is not made over the first, and a key that does not match the certificate is refused.
func TestIssueChainsToTheCA(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, err := Create(dir, "test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, "again", now); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("second CA in the same dir: %v", err)
	}
	loaded, err := Load(filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile))
	if err != nil || !loaded.Cert.Equal(ca.Cert) {
		t.Fatalf("load: %v", err)
	}
	cert, err := loaded.Issue(filepath.Join(dir, "n1"), "n1", []string{"127.0.0.1", "n1.example"}, DefaultCertValidity, now)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := Pool(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	for host, ok := range map[string]bool{"127.0.0.1": true, "n1.example": true, "n2.example": false, "10.0.0.1": false} {
		_, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if (err == nil) != ok {
			t.Errorf("verify for %s: %v, want ok=%v", host, err, ok)
		}
	}
	other := t.TempDir()
	if _, err := Create(other, "other CA", now); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, CACertFile), filepath.Join(other, CAKeyFile)); err == nil {
		t.Error("a key of another CA accepted")
	}
	if _, err := ca.Issue(filepath.Join(dir, "n3"), "n3", nil, DefaultCertValidity, now); err == nil {
		t.Error("a certificate without hosts issued")
	}
}
