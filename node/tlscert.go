package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/wire"
)

// certCheckEvery is how often a handshake looks whether the certificate files changed.
const certCheckEvery = 5 * time.Second

// certExpiryWarn is how close to its end a certificate makes health degraded.
const certExpiryWarn = 7 * 24 * time.Hour

// certStore holds the API's certificate and reads its files again when they change (checked at a
// handshake at most every certCheckEvery) or when asked (SIGHUP), so a renewed certificate needs no
// restart. A file that does not load keeps the certificate in force, and says so in the log.
type certStore struct {
	certFile, keyFile string
	clock             clock.Clock
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	leaf      *x509.Certificate
	stamp     [2]fileStamp // of certFile and keyFile when last loaded
	checked   time.Time
	lastError string
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertStore(certFile, keyFile string, c clock.Clock, log *slog.Logger) (*certStore, error) {
	cs := &certStore{certFile: certFile, keyFile: keyFile, clock: c, log: log}
	if err := cs.reload(); err != nil {
		return nil, err
	}
	return cs, nil
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

// reload reads both files now.
func (cs *certStore) reload() error {
	st := [2]fileStamp{stampOf(cs.certFile), stampOf(cs.keyFile)}
	cert, err := tls.LoadX509KeyPair(cs.certFile, cs.keyFile)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.checked = cs.clock.Now()
	if err != nil {
		err = fmt.Errorf("tls certificate %s, key %s: %w", cs.certFile, cs.keyFile, err)
		cs.lastError = err.Error()
		return err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("tls certificate %s: %w", cs.certFile, err)
		}
	}
	changed := cs.leaf != nil && !cs.leaf.Equal(cert.Leaf)
	cs.cert, cs.leaf, cs.stamp, cs.lastError = &cert, cert.Leaf, st, ""
	if changed {
		cs.log.Info("tls certificate reloaded", "file", cs.certFile, "subject", cert.Leaf.Subject.CommonName,
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// get is the server's GetCertificate: the certificate in force, read again first when its files
// changed since the last look.
func (cs *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cs.mu.Lock()
	due := cs.clock.Now().Sub(cs.checked) >= certCheckEvery
	var old [2]fileStamp
	if due {
		cs.checked = cs.clock.Now()
		old = cs.stamp
	}
	cs.mu.Unlock()
	if due && (stampOf(cs.certFile) != old[0] || stampOf(cs.keyFile) != old[1]) {
		if err := cs.reload(); err != nil {
			cs.log.Error("tls certificate files changed but do not load; keeping the certificate in force", "error", err)
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.cert, nil
}

// health is the certificate's part of health: days left before it expires, degraded in its last
// week, expired, or when its files changed and do not load.
func (cs *certStore) health(now time.Time) wire.HealthCheck {
	cs.mu.Lock()
	leaf, lastError := cs.leaf, cs.lastError
	cs.mu.Unlock()
	left := leaf.NotAfter.Sub(now)
	days := int(math.Floor(left.Hours() / 24))
	c := wire.HealthCheck{Status: "ok", DaysLeft: &days, Expires: leaf.NotAfter.UTC(),
		Detail: fmt.Sprintf("HTTPS; certificate %q expires %s (%d days left)", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly), days)}
	switch {
	case left <= 0:
		c.Status, c.Detail = "degraded", "certificate expired "+leaf.NotAfter.UTC().Format(time.RFC3339)+": clients refuse the API"
	case left < certExpiryWarn:
		c.Status = "degraded"
		c.Detail += "; renew it (fedarms federation cert), the node reads the new files by itself"
	}
	if lastError != "" {
		c.Status = "degraded"
		c.Detail += "; the files changed but do not load: " + lastError
	}
	return c
}

// tlsHealth is the API's transport as health reports it.
func (n *Node) tlsHealth() wire.HealthCheck {
	switch {
	case n.certs != nil:
		return n.certs.health(n.now())
	case n.cfg.TLS.AllowPlaintext:
		return wire.HealthCheck{Status: "ok", Detail: "plain HTTP (tls.allow_plaintext)"}
	}
	return wire.HealthCheck{Status: "ok", Detail: "plain HTTP on loopback"}
}
