package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node"
)

func devCmd(e *env) *cobra.Command {
	c := config.Default()
	var sample int
	var logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a one-node federation with sample data (no config file needed)",
		Long: "dev runs a single node that plays every role (central, ncb, edge) with embedded defaults.\n" +
			"On first start it loads --sample synthetic records; a second start on the same --data reuses the data.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.Log.Format, c.Log.Level = logFormat, logLevel
			if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil || !config.IsLoopback(host) {
				return fmt.Errorf("--http %s: dev serves plain HTTP on a loopback address only (bearer tokens would cross the network in clear); "+
					"run an agent with a [tls] certificate to serve other machines", c.HTTPAddr)
			}
			return runNode(e, c, sample)
		},
	}
	cmd.Flags().StringVar(&c.DataDir, "data", c.DataDir, "data directory")
	cmd.Flags().StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "HTTP listen address for the API and console")
	cmd.Flags().IntVar(&sample, "sample", 10000, "synthetic records to load on first start (0 for none)")
	cmd.Flags().BoolVar(&c.Storage.Plain, "plain-storage", false, "make a new data dir without encryption at rest (to measure what encryption costs)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error (raft, memberlist and libp2p log below warning only at debug)")
	return cmd
}

func agentCmd(e *env) *cobra.Command {
	var path string
	var check bool
	cmd := &cobra.Command{
		Use:   "agent --config FILE",
		Short: "Run a node from a config file (or check the file with --check)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			c, err := config.Parse(f)
			f.Close()
			if err != nil {
				var ps *config.Problems
				if errors.As(err, &ps) {
					for _, p := range ps.List {
						fmt.Fprintf(e.stderr, "%s: %s\n", path, p)
					}
					return &exitError{code: exitFailure, err: fmt.Errorf("%s has %d problem(s)", path, len(ps.List))}
				}
				return err
			}
			if c.Federation != nil && c.Federation.RosterFile != "" && !filepath.IsAbs(c.Federation.RosterFile) {
				c.Federation.RosterFile = filepath.Join(filepath.Dir(path), c.Federation.RosterFile)
			}
			useCredentials(c, filepath.Dir(path))
			for _, f := range []*string{&c.TLS.CertFile, &c.TLS.KeyFile} {
				if *f != "" && !filepath.IsAbs(*f) {
					*f = filepath.Join(filepath.Dir(path), *f)
				}
			}
			if check {
				fmt.Fprintf(e.stdout, "%s: ok (node %s, role %s)\n", path, c.Name, c.Role)
				return nil
			}
			return runNode(e, c, 0)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "config file (TOML)")
	cmd.Flags().BoolVar(&check, "check", false, "only validate the config file and print every problem")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// runNode opens a node, mints the admin token on first start, loads sample data if asked and the
// node is empty, serves until the context ends, then shuts down cleanly.
func runNode(e *env, c *config.Config, sample int) error {
	log := newLogger(e.stderr, c.Log.Format, c.Log.Level)
	// go-libp2p logs through a process-wide slog handler: route it into ours, tagged.
	gologshim.SetDefaultHandler(log.Handler().WithAttrs([]slog.Attr{slog.String("subsystem", "libp2p")}))
	if err := startPprof(log); err != nil {
		return err
	}
	n, err := node.Open(c, node.Options{Logger: log})
	if err != nil {
		return err
	}
	// The token is on disk before the API listens: a script that waits for /v1/health and then
	// reads the token file never finds it missing.
	tokenFile, err := ensureAdminToken(n, c.DataDir)
	if err != nil {
		n.Close()
		return err
	}
	if err := n.Listen(); err != nil {
		n.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve() }()
	// SIGHUP reads the API's certificate files again (a renewal; the node also notices by itself).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer func() { signal.Stop(hup); close(hup) }()
	go func() {
		for range hup {
			if err := n.ReloadTLS(); err != nil {
				log.Error("SIGHUP: reloading the tls certificate", "error", err)
			} else {
				log.Info("SIGHUP: tls certificate read again")
			}
		}
	}()
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := n.Shutdown(ctx)
		log.Info("stopped", "error", err)
		return err
	}
	// A member of a federation serves its local copy even when it cannot reach a leader (an edge
	// whose link is down must still answer); a one-node federation elects itself within a second.
	wait := time.Minute
	if c.Federation != nil {
		wait = 15 * time.Second
	}
	readyCtx, cancel := context.WithTimeout(e.ctx, wait)
	err = n.WaitReady(readyCtx)
	cancel()
	if err != nil && c.Federation == nil {
		stop()
		return err
	}
	if err != nil {
		log.Warn("no leader reachable yet for some shards; serving the local copy, answers will say how stale it is", "error", err)
	}
	base := n.URL()
	if sample > 0 && n.Health().Records == 0 && !sampleLoaded(c.DataDir) {
		if err := loadSample(e, base, tokenFile, sample); err != nil {
			stop()
			return fmt.Errorf("load sample: %w", err)
		}
		_ = os.WriteFile(filepath.Join(c.DataDir, "sample.loaded"), []byte(fmt.Sprintln(sample)), 0o600)
	}
	fmt.Fprintf(e.stdout, "console:    %s/console/\n", base)
	fmt.Fprintf(e.stdout, "api:        %s/v1/\n", base)
	fmt.Fprintf(e.stdout, "token file: %s\n", tokenFile)
	fmt.Fprintf(e.stdout, "fedarms ready: node %s (%s) serving %d records on %s\n", c.Name, c.Role, n.Health().Records, base)
	announceReady(e.ctx, log, n)
	select {
	case <-e.ctx.Done():
		log.Info("shutting down", "reason", "signal")
		announceStopping()
		return stop()
	case err := <-served:
		announceStopping()
		stop()
		return err
	}
}

// ensureAdminToken writes DATA/admin.token (0600) with a new admin token unless the file already
// holds a token the node accepts.
func ensureAdminToken(n *node.Node, dir string) (string, error) {
	path, err := filepath.Abs(filepath.Join(dir, "admin.token"))
	if err != nil {
		return "", err
	}
	if b, err := os.ReadFile(path); err == nil {
		if _, err := n.Tokens().Authenticate(strings.TrimSpace(string(b))); err == nil {
			return path, nil
		}
	}
	secret, _, err := n.Tokens().Create("GS-ADMIN", "", []string{"admin"}, "written by the node on first start")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return path, nil
}

func sampleLoaded(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "sample.loaded"))
	return err == nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
