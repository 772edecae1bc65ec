package fedplan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/transport"
)

// MemberSpec describes one member of a federation to lay out.
type MemberSpec struct {
	Name     string
	Role     string // central, ncb, edge
	Country  string
	Shards   []string // "*" for all
	HTTPAddr string   // host:port
	P2PAddrs []string // libp2p listen multiaddrs; the first ones are also put in the roster
}

// Layout is a federation laid out on disk by WriteFederation.
type Layout struct {
	Dir     string
	RootPub string
	Configs []*config.Config // in the order of the specs
	Files   []string         // each member's config file
}

// WriteFederation lays out a federation under dir, as the General Secretariat and the members
// would: the root key (dir/root.key), each member's identity (dir/NAME/node.key), the roster signed
// by the root key (dir/roster.json) and each member's config (dir/NAME/node.toml). tune, when set,
// adjusts every config before it is written. Used by tests and by scripts/localfed.
func WriteFederation(dir string, specs []MemberSpec, tune func(*config.Config)) (*Layout, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	pub, priv, err := transport.GenerateRootKey()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "root.key"), priv, 0o600); err != nil {
		return nil, err
	}
	l := &Layout{Dir: dir, RootPub: transport.FormatRootPub(pub)}
	var roster []transport.SignedEntry
	rosterFile := filepath.Join(dir, "roster.json")
	for _, s := range specs {
		data := filepath.Join(dir, s.Name)
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, err
		}
		id, err := transport.LoadOrCreateIdentity(data)
		if err != nil {
			return nil, err
		}
		se, err := transport.SignEntry(priv, transport.Entry{PeerID: id.ID, Name: s.Name, Role: transport.Role(s.Role),
			Country: s.Country, Shards: s.Shards, Addrs: s.P2PAddrs})
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", s.Name, err)
		}
		roster = append(roster, se)
		c := config.Default()
		c.Name, c.Role, c.Country, c.DataDir, c.HTTPAddr, c.Shards = s.Name, s.Role, s.Country, data, s.HTTPAddr, s.Shards
		c.Federation = &config.Federation{Listen: s.P2PAddrs, RootPub: l.RootPub, RosterFile: rosterFile}
		if tune != nil {
			tune(c)
		}
		if c.Role == string(config.RoleCentral) {
			// wall clock: the layout's own time, for the operator to read
			if err := MarkFounding(c.DataDir, s.Name, time.Now()); err != nil {
				return nil, err
			}
		}
		f, err := os.OpenFile(filepath.Join(data, "node.toml"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		err = toml.NewEncoder(f).Encode(c)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write config of %s: %w", s.Name, err)
		}
		l.Configs = append(l.Configs, c)
		l.Files = append(l.Files, f.Name())
	}
	b, err := json.MarshalIndent(roster, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(rosterFile, b, 0o600); err != nil {
		return nil, err
	}
	return l, nil
}

// LoadRoster reads a JSON array of signed roster entries.
func LoadRoster(path string) ([]transport.SignedEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	var entries []transport.SignedEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("roster %s: %w", path, err)
	}
	return entries, nil
}
