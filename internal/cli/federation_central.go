package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// The central members (the raft voters of every group) change while the federation runs: join
// lays out a new central node and admits it, the group leaders add it as a non-voter and promote
// it once caught up; remove revokes one and the leaders take it out of every group.

func joinCmd(e *env) *cobra.Command {
	c := &client{}
	var cfgPath string
	var noAdmit bool
	cmd := &cobra.Command{
		Use:   "join ENTRY.json --config FILE [--addr URL of a running member]",
		Short: "Lay out a new central node from its signed entry and admit it: it joins every raft group without bootstrapping",
		Long: "join checks the entry the General Secretariat signed for this machine (root key, this node's\n" +
			"peer id, a central member named as in the config), merges it into the roster file, marks the\n" +
			"data dir so that the node never bootstraps a raft group, and admits the entry through a running\n" +
			"member (--addr). Then start the node (fedarms agent --config FILE): each group's leader adds it\n" +
			"as a non-voter, promotes it once its log has caught up, and `fedarms federation central` shows\n" +
			"the progress. To replace a lost central node under its name, remove the old one first\n" +
			"(fedarms federation remove NAME).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := readConfigFile(cfgPath)
			if err != nil {
				return fmt.Errorf("federation join: %w", err)
			}
			if cfg.Federation == nil || cfg.Role != string(transport.RoleCentral) {
				return fmt.Errorf("federation join: %s is not the config of a central node of a federation (role %q); other members use fedarms site join", cfgPath, cfg.Role)
			}
			pub, err := transport.ParseRootPub(cfg.Federation.RootPub)
			if err != nil {
				return fmt.Errorf("federation join: federation.root_pub of %s: %w", cfgPath, err)
			}
			raw, err := readArg(e, args[0])
			if err != nil {
				return err
			}
			var se transport.SignedEntry
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&se); err != nil {
				return fmt.Errorf("federation join: %s: not a signed roster entry: %w", args[0], err)
			}
			if err := transport.VerifyEntry(pub, se); err != nil {
				return fmt.Errorf("federation join: %s was not signed by this federation's root key: %w", args[0], err)
			}
			if err := checkOwnEntry(cfg.Federation.KeyFile, cfg.DataDir, cfg.Name, cfg.Role, cfg.Country, se.Entry); err != nil {
				return fmt.Errorf("federation join: %w", err)
			}
			// A data dir with raft state belongs to a node that already runs (or ran) in some
			// federation: joining it again would mix two histories.
			if _, err := os.Stat(filepath.Join(cfg.DataDir, "control", "raft.db")); err == nil {
				return fmt.Errorf("federation join: %s already holds raft state: join lays out a new machine; start this node as it is, or give it an empty data dir", cfg.DataDir)
			}
			roster, err := fedplan.LoadRoster(cfg.Federation.RosterFile)
			if err != nil {
				return fmt.Errorf("federation join: %w (the federation's roster, listing its central nodes, is needed)", err)
			}
			if !slices.ContainsFunc(roster, func(r transport.SignedEntry) bool {
				return r.Entry.Role == transport.RoleCentral && r.Entry.Name != se.Entry.Name
			}) {
				return fmt.Errorf("federation join: %w", errNoCentral)
			}
			if roster, err = mergeRoster(pub, roster, se); err != nil {
				return fmt.Errorf("federation join: %w", err)
			}
			b, err := json.MarshalIndent(roster, "", "  ")
			if err != nil {
				return err
			}
			if err := writeAtomic(cfg.Federation.RosterFile, append(b, '\n'), 0o640); err != nil {
				return fmt.Errorf("federation join: %w", err)
			}
			if err := node.MarkJoined(cfg.DataDir, cfg.Name, time.Now()); err != nil {
				return fmt.Errorf("federation join: %w", err)
			}
			fmt.Fprintf(e.stdout, "laid out %s (%s) to join: roster %s, data dir %s marked joined\n", se.Entry.Name, se.Entry.PeerID, cfg.Federation.RosterFile, cfg.DataDir)
			if !noAdmit {
				var out wire.RosterChange
				if err := c.do("POST", "/v1/federation/members", "application/json", bytes.NewReader(raw), &out); err != nil {
					return fmt.Errorf("federation join: admitting %s through %s: %w (the layout is done: admit it with fedarms federation admit %s)", se.Entry.Name, c.addr, err, args[0])
				}
				if err := reportChange(e, c, out, "admitted", "was already admitted"); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stderr, "next: start the node (fedarms agent --config %s), then watch it become a voter: fedarms federation central --wait 5m\n", cfgPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "/etc/fedarms/node.toml", "the new central node's config")
	cmd.Flags().BoolVar(&noAdmit, "no-admit", false, "only lay the node out; admit the entry later (fedarms federation admit)")
	addClientFlags(cmd, c)
	return cmd
}

func removeCmd(e *env) *cobra.Command {
	c := &client{}
	var rootKey, reason string
	var force bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "remove NAME --root-key FILE [--force] [--reason TEXT] [--wait 2m]",
		Short: "Remove a central member, dead or alive, from every raft group and revoke it",
		Long: "remove signs a revocation of the central member with the root key and posts it. The control\n" +
			"leader refuses it while another change of central members is in progress, when the voters left\n" +
			"that answer would not be a majority, and when the member still answers and fewer than three\n" +
			"voters would be left (--force allows that). The group leaders then take it out of every group;\n" +
			"remove waits for that (--wait, 0 not to wait).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sr, err := signRevocation(c, rootKey, args[0], reason)
			if err != nil {
				return err
			}
			r := sr.Revocation
			var out wire.RosterChange
			if err := c.postJSON("/v1/federation/central/removals", wire.CentralRemoval{Revocation: sr, Force: force}, &out); err != nil {
				return err
			}
			if err := reportChange(e, c, out, "revoked", "was already revoked"); err != nil {
				return err
			}
			if wait <= 0 {
				return nil
			}
			// Out of the roster and a voter nowhere. Other central members may still be joining
			// (after a rebuild every lost one is, until it is revoked too): not this removal's wait.
			st, err := waitCentralUntil(c, wait, func(st wire.CentralStatus) bool {
				return !slices.Contains(st.Members, r.Name) && !votesIn(st, r.Name)
			})
			if err != nil {
				return err
			}
			if !c.asJSON {
				fmt.Fprintf(e.stdout, "%s is out of every group: voters %s\n", orDash(r.Name), strings.Join(st.Members, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rootKey, "root-key", "root.key", "the root key file (`fedarms federation init` wrote it)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record (replicated and audited)")
	cmd.Flags().BoolVar(&force, "force", false, "allow fewer than three voters (never fewer answering voters than a majority)")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "wait until the member is out of every group (0: do not wait)")
	addClientFlags(cmd, c)
	return cmd
}

func centralCmd(e *env) *cobra.Command {
	c := &client{}
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "central [--wait 5m]",
		Short: "Show the central members and each raft group's voters, and the change of central members in progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st wire.CentralStatus
			var err error
			if wait > 0 {
				st, err = waitCentral(c, wait, func(wire.CentralStatus) bool { return true })
			} else {
				err = c.do("GET", "/v1/federation/central", "", nil, &st)
			}
			if err != nil {
				return err
			}
			if c.asJSON {
				return printJSON(e.stdout, st)
			}
			printCentral(e.stdout, st)
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait until no change of central members is in progress")
	addClientFlags(cmd, c)
	return cmd
}

// waitCentral polls the node until no change of central members is in progress and done agrees,
// or timeout passes.
func waitCentral(c *client, timeout time.Duration, done func(wire.CentralStatus) bool) (wire.CentralStatus, error) {
	return waitCentralUntil(c, timeout, func(st wire.CentralStatus) bool { return st.Change == "" && done(st) })
}

// votesIn reports whether name is a voter of any group st lists.
func votesIn(st wire.CentralStatus, name string) bool {
	for _, g := range st.Groups {
		if slices.Contains(g.Voters, name) {
			return true
		}
	}
	return false
}

// waitCentralUntil polls the node until done agrees, or timeout passes.
func waitCentralUntil(c *client, timeout time.Duration, done func(wire.CentralStatus) bool) (wire.CentralStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var st wire.CentralStatus // fresh each time: an answer without "change" must not keep the last one's
		err := c.do("GET", "/v1/federation/central", "", nil, &st)
		if err == nil && done(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return st, fmt.Errorf("after %v: %w", timeout, err)
			}
			return st, fmt.Errorf("after %v the change is not done: %s", timeout, orDash(st.Change))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func printCentral(w io.Writer, st wire.CentralStatus) {
	fmt.Fprintf(w, "central members: %s\n\n", strings.Join(st.Members, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tLEADER\tVOTERS\tJOINING\tLEAVING")
	for _, g := range st.Groups {
		var joining []string
		for _, j := range g.Joining {
			s := j.Name
			switch {
			case !j.Member:
				s += " (not added)"
			case j.Behind != nil:
				s += fmt.Sprintf(" (%d behind)", *j.Behind)
			}
			joining = append(joining, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Group, orDash(g.Leader), strings.Join(g.Voters, ","), orDash(strings.Join(joining, ", ")), orDash(strings.Join(g.Leaving, ",")))
	}
	tw.Flush()
	if st.Change == "" {
		fmt.Fprintln(w, "\nno change in progress")
	} else {
		fmt.Fprintf(w, "\nin progress: %s\n", st.Change)
	}
}
