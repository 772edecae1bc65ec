package cli

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/internal/tlsca"
)

// caCmd makes the API's certificate authority beside an existing root key (a federation made
// before `federation init` made one).
func caCmd(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "ca --out DIR",
		Short: "Create the certificate authority of the nodes' HTTPS API (ca.key, ca.pem) in DIR, beside the root key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := tlsca.Create(out, "fedarms federation CA", time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", filepath.Join(out, tlsca.CACertFile))
			fmt.Fprintf(e.stderr, "CA key in %s: keep it with the root key; give %s to clients (--ca)\n",
				filepath.Join(out, tlsca.CAKeyFile), tlsca.CACertFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", ".", "directory of the root key")
	return cmd
}

// certCmd issues a node's HTTPS certificate with the federation's CA.
func certCmd(e *env) *cobra.Command {
	var caDir, name, out string
	var hosts []string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "cert --name NODE --host ADDR [--host NAME...] --out DIR [--ca-dir DIR] [--valid 9528h]",
		Short: "Issue a node's HTTPS certificate (DIR/tls.crt, DIR/tls.key) for its addresses and names, signed by the federation's CA",
		Long: "cert issues a node's HTTPS certificate with the CA that `federation init` made (ca.key, ca.pem in --ca-dir).\n" +
			"Point the node's [tls] cert_file and key_file at the files; to renew, issue again into the same directory:\n" +
			"the node reads the new files by itself (within seconds, or at once on SIGHUP).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || len(hosts) == 0 || out == "" {
				return fmt.Errorf("--name, at least one --host and --out are required")
			}
			ca, err := tlsca.Load(filepath.Join(caDir, tlsca.CACertFile), filepath.Join(caDir, tlsca.CAKeyFile))
			if err != nil {
				return err
			}
			cert, err := ca.Issue(out, name, hosts, validity, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n%s\n", filepath.Join(out, tlsca.CertFile), filepath.Join(out, tlsca.KeyFile))
			fmt.Fprintf(e.stderr, "certificate for %s (%v %v) valid until %s\n", name, cert.IPAddresses, cert.DNSNames,
				cert.NotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca-dir", ".", "directory holding ca.key and ca.pem (as federation init made them)")
	f.StringVar(&name, "name", "", "the node's name")
	f.StringSliceVar(&hosts, "host", nil, "an IP address or DNS name clients use to reach the node (repeat for each)")
	f.StringVar(&out, "out", "", "directory for tls.crt and tls.key")
	f.DurationVar(&validity, "valid", tlsca.DefaultCertValidity, "how long the certificate is valid")
	return cmd
}
