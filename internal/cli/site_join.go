package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/transport"
)

func siteJoinCmd(e *env) *cobra.Command {
	var dir, rosterPath, rootPub string
	cmd := &cobra.Command{
		Use:   "join ENTRY.json [--roster FILE] [--dir DIR]",
		Short: "Put this site's signed roster entry and the federation's roster in place",
		Long: "site join checks the entry the General Secretariat signed (root key, this node's peer id,\n" +
			"name, role and country), merges it into the roster (--roster: the federation's roster file,\n" +
			"which must list the central nodes; default: DIR/roster.json) and writes DIR/roster.json.\n" +
			"Shards the entry grants replace those of the config. The node can then be started.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgPath := filepath.Join(dir, siteConfig)
			c, err := readSiteConfig(cfgPath, rootPub)
			if err != nil {
				return fmt.Errorf("site join: %w (run fedarms site init first; give --root-pub if it was not)", err)
			}
			if c.Federation == nil {
				return fmt.Errorf("site join: %s has no [federation] section", cfgPath)
			}
			pub, err := transport.ParseRootPub(c.Federation.RootPub)
			if err != nil {
				return fmt.Errorf("site join: federation.root_pub of %s: %w (give --root-pub)", cfgPath, err)
			}
			var se transport.SignedEntry
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &se); err != nil {
				return fmt.Errorf("site join: %s: %w", args[0], err)
			}
			if err := transport.VerifyEntry(pub, se); err != nil {
				return fmt.Errorf("site join: %s was not signed by this federation's root key: %w", args[0], err)
			}
			if err := checkOwnEntry(c.Federation.KeyFile, c.DataDir, c.Name, c.Role, c.Country, se.Entry); err != nil {
				return fmt.Errorf("site join: %w", err)
			}
			if rosterPath == "" {
				rosterPath = c.Federation.RosterFile
			}
			var roster []transport.SignedEntry
			if _, err := os.Stat(rosterPath); err == nil {
				if roster, err = fedplan.LoadRoster(rosterPath); err != nil {
					return fmt.Errorf("site join: %w", err)
				}
			}
			roster, err = mergeRoster(pub, roster, se)
			if err != nil {
				return fmt.Errorf("site join: %w", err)
			}
			b, err := json.MarshalIndent(roster, "", "  ")
			if err != nil {
				return err
			}
			if err := writeAtomic(c.Federation.RosterFile, append(b, '\n'), 0o640); err != nil {
				return fmt.Errorf("site join: %w", err)
			}
			changed := !slices.Equal(c.Shards, se.Entry.Shards) || rootPub != ""
			if changed {
				c.Shards = se.Entry.Shards
				// Written back relative, as site init laid them out.
				c.Federation.RosterFile, c.Federation.KeyFile = siteRoster, filepath.Join(siteCreds, transport.IdentityFile)
				if err := writeConfigFile(cfgPath, c); err != nil {
					return err
				}
			}
			if se.Entry.Role == transport.RoleCentral {
				if err := markFounding(e, c.DataDir, se.Entry.Name); err != nil {
					return fmt.Errorf("site join: %w", err)
				}
			}
			fmt.Fprintf(e.stdout, "joined: %s (%s) in a roster of %d members written to %s\n", se.Entry.Name, se.Entry.PeerID, len(roster), filepath.Join(dir, siteRoster))
			fmt.Fprintf(e.stderr, "next: systemctl enable --now fedarms   (or: fedarms agent --config %s)\n      fedarms doctor --config %s\n", cfgPath, cfgPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "/etc/fedarms", "where site init laid the node out")
	cmd.Flags().StringVar(&rosterPath, "roster", "", "the federation's roster (JSON array of signed entries) to merge the entry into")
	cmd.Flags().StringVar(&rootPub, "root-pub", "", "the federation's root public key, when site init was not given it")
	return cmd
}

// checkOwnEntry refuses an entry signed for another machine or another node: its peer id must be
// this node's key, and its name, role and country those of the config.
func checkOwnEntry(keyFile, dataDir, name, role, country string, en transport.Entry) error {
	var id *transport.Identity
	var err error
	if keyFile != "" {
		id, err = transport.LoadIdentity(keyFile)
	} else {
		id, err = transport.LoadOrCreateIdentity(dataDir)
	}
	if err != nil {
		return err
	}
	switch {
	case en.PeerID != id.ID:
		return fmt.Errorf("the entry is for peer id %s, this node is %s: it was signed for another machine's request", en.PeerID, id.ID)
	case en.Name != name || string(en.Role) != role:
		return fmt.Errorf("the entry says %s/%s, the config %s/%s", en.Name, en.Role, name, role)
	case en.Country != country:
		return fmt.Errorf("the entry says country %q, the config %q", en.Country, country)
	}
	return nil
}

// mergeRoster verifies every entry of the roster and puts se in place of any entry of the same
// member (same peer id or name) it supersedes.
func mergeRoster(pub []byte, roster []transport.SignedEntry, se transport.SignedEntry) ([]transport.SignedEntry, error) {
	out := make([]transport.SignedEntry, 0, len(roster)+1)
	central := false
	for _, r := range roster {
		if err := transport.VerifyEntry(pub, r); err != nil {
			return nil, fmt.Errorf("roster entry %s: %w", r.Entry.Name, err)
		}
		if r.Entry.PeerID == se.Entry.PeerID || r.Entry.Name == se.Entry.Name {
			if r.Entry.Serial > se.Entry.Serial {
				return nil, fmt.Errorf("the roster holds a newer entry for %s (serial %d > %d): %w", r.Entry.Name, r.Entry.Serial, se.Entry.Serial, transport.ErrStaleEntry)
			}
			continue
		}
		central = central || r.Entry.Role == transport.RoleCentral
		out = append(out, r)
	}
	if !central && se.Entry.Role != transport.RoleCentral {
		return nil, errNoCentral
	}
	return append(out, se), nil
}

// markFounding marks a founding central node's data dir, which has never run a control group, so
// that its first start bootstraps the raft groups (a central node that replaces a lost one joins
// with `fedarms federation join` instead, and never bootstraps).
func markFounding(e *env, dataDir, name string) error {
	if _, err := os.Stat(filepath.Join(dataDir, "control", "raft.db")); err == nil {
		return nil // it has run: nothing to found
	}
	if err := fedplan.MarkFounding(dataDir, name, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s marked as founding the federation: its first start bootstraps the raft groups (a machine replacing a lost central node uses fedarms federation join instead)\n", dataDir)
	return nil
}
