package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// federationControlCmds are the federation commands that act on a running federation through a
// node's API: the control group admits and revokes members while every node runs.
func federationControlCmds(e *env) []*cobra.Command {
	return []*cobra.Command{admitCmd(e), revokeCmd(e), rosterCmd(e), joinCmd(e), removeCmd(e), centralCmd(e), upgradeCmd(e)}
}

func admitCmd(e *env) *cobra.Command {
	c := &client{}
	cmd := &cobra.Command{
		Use:   "admit ENTRY.json",
		Short: "Admit a member at runtime: post its signed roster entry (as `federation sign` writes it; - for stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readArg(e, args[0])
			if err != nil {
				return err
			}
			// Caught here, a file of the wrong kind gets a clear message rather than a field error.
			var se transport.SignedEntry
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&se); err != nil {
				return fmt.Errorf("%s: not a signed roster entry: %w", args[0], err)
			}
			var out wire.RosterChange
			if err := c.do("POST", "/v1/federation/members", "application/json", bytes.NewReader(raw), &out); err != nil {
				return err
			}
			return reportChange(e, c, out, "admitted", "was already admitted")
		},
	}
	addClientFlags(cmd, c)
	return cmd
}

func revokeCmd(e *env) *cobra.Command {
	c := &client{}
	var rootKey, reason string
	cmd := &cobra.Command{
		Use:   "revoke NAME|PEERID --root-key FILE [--reason TEXT]",
		Short: "Revoke a member for good: sign a revocation with the root key and post it; every node disconnects it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sr, err := signRevocation(c, rootKey, args[0], reason)
			if err != nil {
				return err
			}
			var out wire.RosterChange
			if err := c.postJSON("/v1/federation/revocations", sr, &out); err != nil {
				return err
			}
			return reportChange(e, c, out, "revoked", "was already revoked")
		},
	}
	cmd.Flags().StringVar(&rootKey, "root-key", "root.key", "the root key file (`fedarms federation init` wrote it)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record (replicated and audited)")
	addClientFlags(cmd, c)
	return cmd
}

// revocationFor names the member to revoke: by roster name, or by peer id, which need not be in the
// roster (a key known to be stolen can be revoked before anyone admits it).
func revocationFor(view wire.RosterView, who string) (transport.Revocation, error) {
	for _, m := range view.Members {
		if m.Entry.Name == who || m.Entry.PeerID.String() == who {
			return transport.Revocation{PeerID: m.Entry.PeerID, Name: m.Entry.Name}, nil
		}
	}
	id, err := peer.Decode(who)
	if err != nil {
		return transport.Revocation{}, fmt.Errorf("no member named %q in the roster, and it is not a peer id", who)
	}
	return transport.Revocation{PeerID: id}, nil
}

func rosterCmd(e *env) *cobra.Command {
	c := &client{}
	cmd := &cobra.Command{
		Use:   "roster",
		Short: "Show the roster in force on a node (file seed and control group) and the revoked members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var view wire.RosterView
			if err := c.do("GET", "/v1/federation/roster", "", nil, &view); err != nil {
				return err
			}
			if c.asJSON {
				return printJSON(e.stdout, view)
			}
			printRoster(e.stdout, view)
			return nil
		},
	}
	addClientFlags(cmd, c)
	return cmd
}

func printRoster(w io.Writer, v wire.RosterView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCOUNTRY\tSHARDS\tSOURCE\tSERIAL\tPEER ID")
	for _, m := range v.Members {
		e := m.Entry
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", e.Name, e.Role, orDash(e.Country), strings.Join(e.Shards, ","), m.Source, e.Serial, e.PeerID)
	}
	tw.Flush()
	if len(v.Revoked) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REVOKED\tAT\tREASON\tPEER ID")
		for _, sr := range v.Revoked {
			r := sr.Revocation
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", orDash(r.Name), r.RevokedAt.Format(time.RFC3339), orDash(r.Reason), r.PeerID)
		}
		tw.Flush()
	}
	leader := v.Leader
	if leader == "" {
		leader = "unknown"
	}
	fmt.Fprintf(w, "\ncontrol group: leader %s, applied index %d\n", leader, v.AppliedIndex)
}

func reportChange(e *env, c *client, out wire.RosterChange, did, already string) error {
	if c.asJSON {
		return printJSON(e.stdout, out)
	}
	name := out.Name
	if name == "" {
		name = "peer"
	}
	if !out.Changed {
		fmt.Fprintf(e.stdout, "%s (%s) %s\n", name, out.PeerID, already)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s %s (%s) at control index %d\n", did, name, out.PeerID, out.Index)
	return nil
}

// readArg reads a file, or stdin for "-".
func readArg(e *env, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(e.stdin)
	}
	return os.ReadFile(path)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// signRevocation signs, with the root key in rootKey, a revocation of the member who names (a name or
// a peer id) as the node c asks knows it.
func signRevocation(c *client, rootKey, who, reason string) (transport.SignedRevocation, error) {
	priv, err := os.ReadFile(rootKey)
	if err != nil {
		return transport.SignedRevocation{}, err
	}
	var view wire.RosterView
	if err := c.do("GET", "/v1/federation/roster", "", nil, &view); err != nil {
		return transport.SignedRevocation{}, err
	}
	r, err := revocationFor(view, who)
	if err != nil {
		return transport.SignedRevocation{}, err
	}
	r.RevokedAt, r.Reason = time.Now(), reason
	return transport.SignRevocation(ed25519.PrivateKey(priv), r)
}
