package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/transport"
)

// The layout `fedarms site init` writes under its --dir (the packages' /etc/fedarms).
const (
	siteConfig  = "fedarms.toml"
	siteRoster  = "roster.json"
	siteRequest = "request.json"
	siteCreds   = "credentials" // the node key; root's, handed to the service by systemd
	// serviceGroup is the group of the system user the packages create (deploy/systemd/fedarms.sysusers).
	serviceGroup = "fedarms"
)

// siteRequest is what a new site sends the General Secretariat to be signed: everything of its
// roster entry but the signature and the serial, which `fedarms federation sign` adds.
type siteRequestDoc struct {
	PeerID  string   `json:"peer_id"`
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	Country string   `json:"country,omitempty"`
	Shards  []string `json:"shards"`
	Addrs   []string `json:"addrs,omitempty"`
}

func siteCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "site", Short: "Set up this machine as a federation site: lay out config, data dir and identity, then put the signed entry in place"}
	cmd.AddCommand(siteInitCmd(e), siteJoinCmd(e))
	return cmd
}

func siteInitCmd(e *env) *cobra.Command {
	var o struct {
		role, country, name, dir, data, http, rootPub string
		shards, listen, addrs                         []string
	}
	cmd := &cobra.Command{
		Use:   "init --role central|ncb|edge --country CC --name NAME [--dir DIR] [--data DIR]",
		Short: "Lay out a node's config, data dir and identity, and print the request the General Secretariat signs",
		Long: "site init writes DIR/fedarms.toml, creates the data dir (0700) and the node key\n" +
			"(DIR/credentials/node.key, 0600), and prints the request (peer id, name, role, country,\n" +
			"shards, addresses) as JSON, also kept in DIR/request.json. The General Secretariat signs it\n" +
			"with `fedarms federation sign` and admits it; `fedarms site join ENTRY.json` then puts the\n" +
			"signed entry and the roster in place. Running it again keeps the key and prints the same request.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := config.Default()
			c.Name, c.Role, c.Country = o.name, o.role, strings.ToUpper(o.country)
			c.DataDir, c.HTTPAddr, c.Shards = absPath(o.data), o.http, o.shards
			c.Log.Format = "json"
			if len(c.Shards) == 0 {
				c.Shards = defaultShards(c)
			}
			c.Federation = &config.Federation{Listen: o.listen, RootPub: o.rootPub, RosterFile: siteRoster,
				KeyFile: filepath.Join(siteCreds, transport.IdentityFile)}
			cfgPath := filepath.Join(o.dir, siteConfig)
			if old, err := readConfigFile(cfgPath); err == nil && (old.Name != c.Name || old.Role != c.Role) {
				return fmt.Errorf("%s already sets up node %s (%s); remove it first to lay out another node", cfgPath, old.Name, old.Role)
			}
			if err := os.MkdirAll(o.dir, 0o750); err != nil {
				return fmt.Errorf("site init: %w", err)
			}
			if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
				return fmt.Errorf("site init: data dir: %w", err)
			}
			if err := os.Chmod(c.DataDir, 0o700); err != nil {
				return fmt.Errorf("site init: data dir: %w", err)
			}
			id, err := transport.LoadOrCreateIdentity(filepath.Join(o.dir, siteCreds))
			if err != nil {
				return fmt.Errorf("site init: %w", err)
			}
			if err := writeConfigFile(cfgPath, c); err != nil {
				return err
			}
			req := siteRequestDoc{PeerID: id.ID.String(), Name: c.Name, Role: c.Role, Country: c.Country, Shards: c.Shards, Addrs: o.addrs}
			// The request is checked as the entry it will become, so a mistake shows here and not at the GS.
			if err := (transport.Entry{PeerID: id.ID, Name: req.Name, Role: transport.Role(req.Role), Country: req.Country,
				Shards: req.Shards, Addrs: req.Addrs}).Validate(); err != nil {
				return fmt.Errorf("site init: the request would not make a valid roster entry: %w", err)
			}
			var buf bytes.Buffer
			if err := printJSON(&buf, req); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(o.dir, siteRequest), buf.Bytes(), 0o644); err != nil {
				return err
			}
			e.stdout.Write(buf.Bytes())
			fmt.Fprintf(e.stderr, "config %s, data dir %s, node key %s\n", cfgPath, c.DataDir, filepath.Join(o.dir, siteCreds, transport.IdentityFile))
			fmt.Fprintf(e.stderr, "send %s to the General Secretariat, which signs and admits it:\n  %s\n",
				filepath.Join(o.dir, siteRequest), signCommand(req))
			fmt.Fprintf(e.stderr, "then: fedarms site join ENTRY.json --roster ROSTER.json --dir %s\n", o.dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", "", "central, ncb or edge")
	f.StringVar(&o.country, "country", "", "ISO 3166-1 alpha-2 (ncb and edge)")
	f.StringVar(&o.name, "name", "", "the node's name in the federation, e.g. edge-cdg-2")
	f.StringVar(&o.dir, "dir", "/etc/fedarms", "where the config, roster and node key go")
	f.StringVar(&o.data, "data", "/var/lib/fedarms", "the node's data dir")
	f.StringVar(&o.http, "http", "127.0.0.1:8080", "HTTP listen address of the API and console")
	f.StringVar(&o.rootPub, "root-pub", "", "the federation's root public key (ed25519:...); site join can set it later")
	f.StringSliceVar(&o.shards, "shards", nil, "shards to hold (default: every shard for central and ncb, the country's shard for an edge)")
	f.StringSliceVar(&o.listen, "listen", []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}, "libp2p listen multiaddrs (none for an edge behind NAT)")
	f.StringSliceVar(&o.addrs, "addr", nil, "multiaddrs the other members dial this node at (none: reached through the central nodes' relays)")
	for _, req := range []string{"role", "name"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

// defaultShards: central and NCB nodes hold everything; an edge holds its own country's shard and
// asks a peer for the others.
func defaultShards(c *config.Config) []string {
	if c.Role == config.RoleEdge {
		if s, ok := c.ShardMapFull().Shard(c.Country); ok {
			return []string{s}
		}
	}
	return []string{transport.AllShards}
}

func signCommand(r siteRequestDoc) string {
	s := fmt.Sprintf("fedarms federation sign --root-key root.key --peer-id %s --name %s --role %s", r.PeerID, r.Name, r.Role)
	if r.Country != "" {
		s += " --country " + r.Country
	}
	s += " --shards '" + strings.Join(r.Shards, ",") + "'"
	for _, a := range r.Addrs {
		s += " --addr " + a
	}
	return s + " > " + r.Name + ".entry.json"
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// readConfigFile parses a config file as the agent does (relative roster and key paths resolved
// against its directory).
func readConfigFile(path string) (*config.Config, error) { return readSiteConfig(path, "") }

// readSiteConfig reads a config file, with federation.root_pub set to rootPub when that is given:
// site init may lay a node out before the site has the federation's root key, and the file does
// not pass the config check until it has one.
func readSiteConfig(path, rootPub string) (*config.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if rootPub != "" {
		var m map[string]any
		if err := toml.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		fed, ok := m["federation"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s has no [federation] section", path)
		}
		fed["root_pub"] = rootPub
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(m); err != nil {
			return nil, err
		}
		raw = buf.Bytes()
	}
	c, err := config.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if fc := c.Federation; fc != nil {
		dir := filepath.Dir(path)
		if fc.RosterFile != "" && !filepath.IsAbs(fc.RosterFile) {
			fc.RosterFile = filepath.Join(dir, fc.RosterFile)
		}
		if fc.KeyFile != "" && !filepath.IsAbs(fc.KeyFile) {
			fc.KeyFile = filepath.Join(dir, fc.KeyFile)
		}
	}
	return c, nil
}

// writeConfigFile writes c through a temporary file and a rename (0640: the service's group reads it).
func writeConfigFile(path string, c *config.Config) error {
	var buf bytes.Buffer
	buf.WriteString("# Written by `fedarms site init`; every key is described in the README's config section.\n")
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, buf.Bytes(), 0o640)
}

// writeAtomic writes through a temporary file and a rename. Run as root on a machine with the
// packages' fedarms group, the file goes to that group, so the service user reads the config and the
// roster while only root changes them.
func writeAtomic(path string, b []byte, mode fs.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if g, err := user.LookupGroup(serviceGroup); err == nil {
			if gid, err := strconv.Atoi(g.Gid); err == nil {
				_ = os.Chown(tmp, 0, gid)
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// errNoCentral: a roster without central nodes gives a new member nobody to join.
var errNoCentral = errors.New("the roster lists no central node: ask the General Secretariat for the federation's roster")
