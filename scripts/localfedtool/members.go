package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node/fedplan"
)

// member is one node of a laid-out federation, as the tool needs it.
type member struct {
	Name    string
	Role    string
	Country string
	Shards  []string
	PeerID  string
	P2P     []string
	API     string // https://host:port (http:// for a node without a certificate)
	DataDir string
	Config  string // the node.toml path
	// MaxStaleness is the node's configured max_staleness.
	MaxStaleness time.Duration
}

func (m member) tokenFile() string { return filepath.Join(m.DataDir, "admin.token") }
func (m member) logFile() string   { return filepath.Join(m.DataDir, "node.log") }
func (m member) pidFile() string   { return filepath.Join(m.DataDir, "agent.pid") }

// errNotLaidOut: DIR holds no federation yet.
var errNotLaidOut = errors.New("no federation laid out here (run: localfed up DIR)")

// loadMembers reads the members of the federation in dir, in roster order, from the signed roster
// and each member's config; the directory itself is the state, so every command works across
// invocations.
func loadMembers(dir string) ([]member, error) {
	entries, err := fedplan.LoadRoster(filepath.Join(dir, "roster.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, errNotLaidOut)
	}
	if err != nil {
		return nil, err
	}
	if err := trustCA(dir); err != nil {
		return nil, err
	}
	out := make([]member, 0, len(entries))
	for _, se := range entries {
		e := se.Entry
		path := filepath.Join(dir, e.Name, "node.toml")
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", e.Name, err)
		}
		c, err := config.Parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("member %s config %s: %w", e.Name, path, err)
		}
		scheme := "http://"
		if c.TLS.Enabled() {
			scheme = "https://"
		}
		out = append(out, member{Name: e.Name, Role: string(e.Role), Country: e.Country, Shards: e.Shards,
			PeerID: e.PeerID.String(), P2P: e.Addrs, API: scheme + c.HTTPAddr, DataDir: c.DataDir, Config: path,
			MaxStaleness: c.MaxStaleness.Duration})
	}
	return out, nil
}

// find returns the member called name, or an error listing the names there are.
func find(ms []member, name string) (member, error) {
	var names []string
	for _, m := range ms {
		if m.Name == name {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return member{}, fmt.Errorf("no node %q in this federation (nodes: %v)", name, names)
}

// fedNode is one node in DIR/federation.json (CONTRACTS.md, "Local federation"); pid, peer_id and
// p2p are additions.
type fedNode struct {
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Country   string   `json:"country"`
	API       string   `json:"api"`
	TokenFile string   `json:"token_file"`
	Log       string   `json:"log"`
	Shards    []string `json:"shards"`
	PID       int      `json:"pid,omitempty"`
	PeerID    string   `json:"peer_id"`
	P2P       []string `json:"p2p"`
}

// fedFile is DIR/federation.json.
type fedFile struct {
	// CAFile is the CA that issued the nodes' HTTPS certificates (empty when they serve plain HTTP).
	CAFile string    `json:"ca_file,omitempty"`
	Nodes  []fedNode `json:"nodes"`
	// ReadySeconds is how long the last `up` took from its start to a ready federation.
	ReadySeconds float64 `json:"ready_seconds,omitempty"`
	// MaxStaleness is the max_staleness every node was configured with.
	MaxStaleness string `json:"max_staleness,omitempty"`
}

// describe builds federation.json's content; pids maps names to running agents' pids.
func describe(ms []member, pids map[string]int) fedFile {
	var f fedFile
	f.CAFile = caFile
	if len(ms) > 0 {
		f.MaxStaleness = ms[0].MaxStaleness.String()
	}
	for _, m := range ms {
		f.Nodes = append(f.Nodes, fedNode{Name: m.Name, Role: m.Role, Country: m.Country, API: m.API,
			TokenFile: m.tokenFile(), Log: m.logFile(), Shards: m.Shards, PID: pids[m.Name], PeerID: m.PeerID, P2P: m.P2P})
	}
	return f
}

// writeFedFile replaces DIR/federation.json atomically, keeping ready_seconds from the old file
// when the new content has none.
func writeFedFile(dir string, f fedFile) error {
	path := filepath.Join(dir, "federation.json")
	if f.ReadySeconds == 0 {
		if b, err := os.ReadFile(path); err == nil {
			var old fedFile
			if json.Unmarshal(b, &old) == nil {
				f.ReadySeconds = old.ReadySeconds
			}
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write federation.json: %w", err)
	}
	return os.Rename(tmp, path)
}
