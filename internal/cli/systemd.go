package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/sdnotify"
	"github.com/fedarms/fedarms/node"
)

// credentialKey is the name of the node key among the credentials the unit passes with
// LoadCredential= (deploy/systemd/fedarms.service).
const credentialKey = "node.key"

// useCredentials points the node at the key systemd passed in $CREDENTIALS_DIRECTORY, which wins
// over federation.key_file: under the unit the file key_file names is root's and not readable by
// the service user, and the copy systemd made is. Relative key_file paths are resolved against the
// config file's directory, as roster_file is.
func useCredentials(c *config.Config, configDir string) {
	if c.Federation == nil {
		return
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		p := filepath.Join(dir, credentialKey)
		if _, err := os.Stat(p); err == nil {
			c.Federation.KeyFile = p
			return
		}
	}
	if c.Federation.KeyFile != "" && !filepath.IsAbs(c.Federation.KeyFile) {
		c.Federation.KeyFile = filepath.Join(configDir, c.Federation.KeyFile)
	}
}

// announceReady tells systemd (Type=notify) that the node serves searches, and while ctx lasts
// feeds the watchdog, each ping only after the node answered a health check, so a node that hangs
// is restarted. Outside systemd it does nothing.
func announceReady(ctx context.Context, log *slog.Logger, n *node.Node) {
	log = log.With("subsystem", "systemd")
	sent, err := sdnotify.Notify(sdnotify.Ready + "\nSTATUS=serving searches")
	if err != nil {
		log.Warn("could not tell systemd the node is ready", "error", err)
	}
	if !sent {
		return
	}
	every, err := sdnotify.WatchdogInterval()
	if err != nil {
		log.Warn("watchdog not fed", "error", err)
	}
	if every <= 0 {
		return
	}
	// Half the interval, as sd_watchdog_enabled(3) advises, so one late tick is not a restart.
	go func() {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = n.Health()
				if _, err := sdnotify.Notify(sdnotify.Watchdog); err != nil {
					log.Warn("watchdog ping failed", "error", err)
				}
			}
		}
	}()
}

// announceStopping tells systemd the node is shutting down (no-op outside systemd).
func announceStopping() { _, _ = sdnotify.Notify(sdnotify.Stopping) }
