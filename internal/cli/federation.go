package cli

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/internal/tlsca"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

func federationCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "federation", Short: "Set up a federation (root key, identities, signed entries) and admit or revoke members at runtime"}
	var out string
	initCmd := &cobra.Command{
		Use:   "init --out DIR",
		Short: "Create the federation's root key (kept by the General Secretariat) and print its public part",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(out, "root.key")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists; refusing to replace a root key", path)
			}
			pub, priv, err := transport.GenerateRootKey()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(path, priv, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "root key written to %s (keep it offline; it signs the roster)\n", path)
			if _, err := tlsca.Create(out, "fedarms federation CA", time.Now()); err != nil {
				return fmt.Errorf("the API's CA: %w", err)
			}
			fmt.Fprintf(e.stderr, "API certificate authority written to %s and %s (the key stays with the root key; clients trust the .pem with --ca)\n",
				filepath.Join(out, tlsca.CAKeyFile), filepath.Join(out, tlsca.CACertFile))
			fmt.Fprintln(e.stdout, transport.FormatRootPub(pub))
			return nil
		},
	}
	initCmd.Flags().StringVar(&out, "out", ".", "directory for root.key, ca.key and ca.pem")

	var dataDir string
	identity := &cobra.Command{
		Use:   "identity --data DIR",
		Short: "Create (or read) a node's libp2p identity in its data dir and print its peer id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := transport.LoadOrCreateIdentity(dataDir)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, id.ID)
			return nil
		},
	}
	identity.Flags().StringVar(&dataDir, "data", "./fedarms-data", "the node's data dir")

	var rootKey, peerID, name, role, country string
	var shards, addrs []string
	var serial uint64
	sign := &cobra.Command{
		Use:   "sign --root-key FILE --peer-id ID --name N --role R [--country CC] [--shards s1,s2] [--addr MA] [--serial N]",
		Short: "Sign a roster entry with the root key; prints the entry as JSON (append it to the roster file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, err := os.ReadFile(rootKey)
			if err != nil {
				return err
			}
			pid, err := peerIDFrom(peerID)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("serial") {
				serial = uint64(time.Now().Unix()) // a later entry for the same member gets a higher one
			}
			se, err := transport.SignEntry(ed25519.PrivateKey(priv), transport.Entry{PeerID: pid, Name: name,
				Role: transport.Role(role), Country: country, Shards: shards, Addrs: addrs, Serial: serial})
			if err != nil {
				return err
			}
			return printJSON(e.stdout, se)
		},
	}
	f := sign.Flags()
	f.StringVar(&rootKey, "root-key", "root.key", "the root key file")
	f.StringVar(&peerID, "peer-id", "", "the member's peer id (fedarms federation identity)")
	f.StringVar(&name, "name", "", "member name, e.g. lyon-1")
	f.StringVar(&role, "role", "", "central, ncb or edge")
	f.StringVar(&country, "country", "", "ISO 3166-1 alpha-2 (ncb and edge)")
	f.StringSliceVar(&shards, "shards", []string{"*"}, "shards the member holds")
	f.StringSliceVar(&addrs, "addr", nil, "libp2p multiaddrs others dial it at")
	f.Uint64Var(&serial, "serial", 0, "the entry's serial, higher than any earlier entry of the member (default: the signing time in Unix seconds; 0: none, for a federation still running a release before serials)")
	cmd.AddCommand(initCmd, identity, sign, caCmd(e), certCmd(e))
	cmd.AddCommand(federationControlCmds(e)...)
	return cmd
}

func membersCmd(e *env) *cobra.Command {
	c := &client{}
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "members [--watch 2s]",
		Short: "Show every federation member: status, role, country, shard lag, outbox, last contact",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for {
				var out struct {
					Members []wire.Member `json:"members"`
				}
				if err := c.do("GET", "/v1/cluster/members", "", nil, &out); err != nil {
					return err
				}
				if c.asJSON {
					if err := printJSON(e.stdout, out); err != nil {
						return err
					}
				} else {
					if watch > 0 {
						fmt.Fprint(e.stdout, "\033[H\033[2J")
					}
					printMembers(e, out.Members)
				}
				if watch <= 0 {
					return nil
				}
				select {
				case <-e.ctx.Done():
					return nil
				case <-time.After(watch):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&watch, "watch", 0, "refresh every interval until interrupted")
	addClientFlags(cmd, c)
	return cmd
}

func printMembers(e *env, ms []wire.Member) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCOUNTRY\tSTATUS\tSHARDS (applied/lag entries/lag s)\tOUTBOX\tOVERDUE\tLAST CONTACT\tVERSION")
	for _, m := range ms {
		var sh []string
		for _, s := range m.Shards {
			sh = append(sh, fmt.Sprintf("%s %d/%d/%ds", s.Shard, s.Applied, s.LagEntries, s.LagSeconds))
		}
		name := m.Name
		if m.Self {
			name += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", name, m.Role, m.Country, m.Status, strings.Join(sh, ", "), m.Outbox, m.Overdue, ago(m.LastCentral), m.Version)
	}
	tw.Flush()
}

func peerIDFrom(s string) (peer.ID, error) {
	id, err := peer.Decode(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("--peer-id %q: %w", s, err)
	}
	return id, nil
}
