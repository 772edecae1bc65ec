package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedarms/fedarms/node/httpapi"
)

// Listen binds the HTTP address; Addr then reports the bound address (useful with port 0). With a
// certificate configured the API serves HTTPS (TLS 1.3, HTTP/2); a certificate that cannot be read
// stops the start here.
func (n *Node) Listen() error {
	lim := n.cfg.Limits
	if n.cfg.TLS.Enabled() {
		cs, err := newCertStore(n.cfg.TLS.CertFile, n.cfg.TLS.KeyFile, n.clock, n.log.With("subsystem", "http"))
		if err != nil {
			return err
		}
		n.certs = cs
	}
	// Keep-alive is set by ConnLimit on the connections it admits, not on each one accepted.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.cfg.HTTPAddr, err)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_http_connections_refused_total",
		Help: "API connections closed at accept, by the limit they broke (total, per_client)."}, []string{"reason"})
	refusedBy := map[string]prometheus.Counter{}
	for _, r := range []string{"total", "per_client"} {
		refusedBy[r] = refused.WithLabelValues(r)
	}
	cl := &httpapi.ConnLimit{Listener: ln, Total: lim.MaxConns, PerClient: lim.MaxConnsPerClient,
		KeepAlive: httpapi.DefaultKeepAlive, Refused: func(reason string) { refusedBy[reason].Inc() }}
	n.met.reg.MustRegister(refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fedarms_http_connections_open",
		Help: "API connections open now."}, func() float64 { return float64(cl.Open()) }))
	n.ln = cl
	n.httpSrv = &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: min(10*time.Second, lim.ReadTimeout.Duration),
		ReadTimeout:       lim.ReadTimeout.Duration,
		WriteTimeout:      lim.WriteTimeout.Duration,
		IdleTimeout:       lim.IdleTimeout.Duration,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(n.log.With("subsystem", "http").Handler(), slog.LevelWarn),
	}
	if n.certs != nil {
		n.httpSrv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: n.certs.get,
			NextProtos: []string{"h2", "http/1.1"}}
	}
	return nil
}

// Addr is the HTTP listener's address.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the API's base URL (https:// when it serves TLS).
func (n *Node) URL() string {
	if n.certs != nil {
		return "https://" + n.Addr()
	}
	return "http://" + n.Addr()
}

// Serve serves the API until Shutdown; it returns nil after a clean shutdown.
func (n *Node) Serve() error {
	var err error
	if n.certs != nil {
		err = n.httpSrv.ServeTLS(n.ln, "", "")
	} else {
		err = n.httpSrv.Serve(n.ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if n.atRest.revoked.Load() {
		return ErrRevoked
	}
	return nil
}

// ReloadTLS reads the certificate and key files again now (SIGHUP); without a certificate it does
// nothing. The node also reads them again by itself when they change.
func (n *Node) ReloadTLS() error {
	if n.certs == nil {
		return nil
	}
	return n.certs.reload()
}
