package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/tlsca"
	"github.com/fedarms/fedarms/node/fedplan"
)

// The central tier changes as an operator changes it: through the fedarms binary's own commands
// (federation identity, sign, join, remove, central) against a running central node, so the
// drills exercise what the runbook tells operators to type.

// replace plays the loss of a central node's machine: its agent is killed and its data dir
// (identity, raft logs, state) deleted; the old identity is removed from every group and revoked;
// a new identity under the same name joins, catches up and becomes a voter of every group.
func (t *tool) replace(name string) error {
	t0 := time.Now()
	m, via, err := t.centralAndPeer(name, "replace is for central nodes")
	if err != nil {
		return err
	}
	if _, err := signalAndWait(m, syscall.SIGKILL, 10*time.Second); err != nil {
		return err
	}
	if err := wipeDataDir(m); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "%s lost: agent killed, data dir and identity deleted (%.1fs)\n", name, time.Since(t0).Seconds())
	if err := t.removeCentral(via, name); err != nil {
		return err
	}
	removed := time.Since(t0)
	fmt.Fprintf(t.out, "old %s out of every group and revoked (%.1fs)\n", name, removed.Seconds())
	if err := t.joinCentral(via, m); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "%s replaced: a new identity is a voter of every group, %.1fs after the loss (old one removed after %.1fs)\n",
		name, time.Since(t0).Seconds(), removed.Seconds())
	return t.rewriteFedFile()
}

// addArgs reads `add NAME --role ROLE` (the role flag before or after the name).
func (t *tool) addArgs(rest []string) error {
	var name, role string
	for i := 0; i < len(rest); i++ {
		switch a := rest[i]; {
		case a == "--role" && i+1 < len(rest):
			role = rest[i+1]
			i++
		case strings.HasPrefix(a, "--role="):
			role = strings.TrimPrefix(a, "--role=")
		case name == "" && !strings.HasPrefix(a, "-"):
			name = a
		default:
			return usageError{fmt.Sprintf("add: unexpected %q (add DIR NAME --role central)", a)}
		}
	}
	if name == "" || role == "" {
		return usageError{"add takes DIR NAME --role central"}
	}
	return t.add(name, role)
}

// add lays out one more central node, admits it and waits until it votes in every group.
func (t *tool) add(name, role string) error {
	t0 := time.Now()
	if role != string(config.RoleCentral) {
		return usageError{fmt.Sprintf("add --role %s: only central nodes can be added (add DIR NAME --role central)", role)}
	}
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	if _, err := find(ms, name); err == nil {
		return fmt.Errorf("%s is already a member of this federation", name)
	}
	if _, err := os.Stat(filepath.Join(t.dir, name)); err == nil {
		return fmt.Errorf("%s exists: choose another name", filepath.Join(t.dir, name))
	}
	via, err := t.otherCentral(ms, name)
	if err != nil {
		return err
	}
	m, err := t.layOutCentral(name, via)
	if err != nil {
		return err
	}
	if err := t.joinCentral(via, m); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "%s added: a voter of every group after %.1fs\n", name, time.Since(t0).Seconds())
	return t.rewriteFedFile()
}

// remove takes a central node out of every group and revokes it; its agent is then stopped, its
// entry dropped from the roster file (so that up does not start it again) and its directory moved
// to DIR/removed/.
func (t *tool) remove(name string) error {
	t0 := time.Now()
	m, via, err := t.centralAndPeer(name, "remove is for central nodes (revoke others with fedarms federation revoke)")
	if err != nil {
		return err
	}
	if err := t.removeCentral(via, name); err != nil {
		return err
	}
	if _, err := signalAndWait(m, syscall.SIGTERM, t.env.stopTimeout); err != nil {
		return err
	}
	if err := dropFromRoster(t.dir, name); err != nil {
		return err
	}
	dst := filepath.Join(t.dir, "removed", fmt.Sprintf("%s-%d", name, time.Now().Unix()))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(t.dir, name), dst); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "%s removed from every group and revoked in %.1fs; its files are in %s\n", name, time.Since(t0).Seconds(), dst)
	return t.rewriteFedFile()
}

// otherCentral is a running central node other than name, to ask.
func (t *tool) otherCentral(ms []member, name string) (member, error) {
	for _, o := range ms {
		if o.Name == name || o.Role != string(config.RoleCentral) {
			continue
		}
		if _, ok := running(o); ok && notReady(o) == "" {
			return o, nil
		}
	}
	return member{}, fmt.Errorf("no other central node is running and ready to order the change")
}

// removeCentral runs `fedarms federation remove` against via. Right after a loss the control
// leader may not yet know the lost node silent (too_few_voters), and a control leader elected
// because the lost node led has not heard the others yet (unavailable, or would_lose_quorum while
// its first answers arrive): those refusals are retried for 30 s.
func (t *tool) removeCentral(via member, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := t.fedarms(append([]string{"federation", "remove", name, "--root-key", filepath.Join(t.dir, "root.key"), "--reason", "localfed", "--wait", "2m"}, clientArgs(via)...)...)
		if err == nil {
			return nil
		}
		transient := strings.Contains(err.Error(), "too_few_voters") || strings.Contains(err.Error(), "would_lose_quorum") ||
			strings.Contains(err.Error(), "unavailable")
		if !transient || time.Now().After(deadline) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		time.Sleep(time.Second)
	}
}

// joinCentral gives m a new identity, has the root key sign its entry, lays it out to join
// (fedarms federation join, which also admits it through via), starts it and waits until it votes
// in every group.
func (t *tool) joinCentral(via, m member) error {
	out, err := t.fedarms("federation", "identity", "--data", m.DataDir)
	if err != nil {
		return fmt.Errorf("identity of %s: %w", m.Name, err)
	}
	peerID := strings.TrimSpace(out)
	signArgs := []string{"federation", "sign", "--root-key", filepath.Join(t.dir, "root.key"), "--peer-id", peerID,
		"--name", m.Name, "--role", string(config.RoleCentral), "--shards", "*"}
	for _, a := range m.P2P {
		signArgs = append(signArgs, "--addr", a)
	}
	entry, err := t.fedarms(signArgs...)
	if err != nil {
		return fmt.Errorf("sign the entry of %s: %w", m.Name, err)
	}
	entryFile := filepath.Join(m.DataDir, "entry.json")
	if err := os.WriteFile(entryFile, []byte(entry), 0o600); err != nil {
		return err
	}
	if _, err := t.fedarms(append([]string{"federation", "join", entryFile, "--config", m.Config}, clientArgs(via)...)...); err != nil {
		return fmt.Errorf("join %s: %w", m.Name, err)
	}
	m.PeerID = peerID
	pid, err := launch(t.bin, m)
	if err != nil {
		return err
	}
	if err := waitReady([]member{m}, t.env.readyTimeout); err != nil {
		return fmt.Errorf("%s started (pid %d) but %w", m.Name, pid, err)
	}
	out, err = t.fedarms(append([]string{"federation", "central", "--wait", t.env.readyTimeout.String()}, clientArgs(via)...)...)
	if err != nil {
		return fmt.Errorf("%s did not become a voter of every group: %w", m.Name, err)
	}
	fmt.Fprint(t.out, out)
	return nil
}

// layOutCentral writes DIR/NAME/node.toml for a new central node, with ports of its own and, when
// the federation serves HTTPS, a certificate from DIR's CA; the rest is copied from via's config.
func (t *tool) layOutCentral(name string, via member) (member, error) {
	f, err := os.Open(via.Config)
	if err != nil {
		return member{}, err
	}
	base, err := config.Parse(f)
	f.Close()
	if err != nil {
		return member{}, fmt.Errorf("config of %s: %w", via.Name, err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return member{}, err
	}
	data := filepath.Join(t.dir, name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return member{}, err
	}
	spec := []fedplan.MemberSpec{{Name: name, Role: string(config.RoleCentral), Shards: []string{"*"}}}
	if err := assignAddrs(spec, ports); err != nil {
		return member{}, err
	}
	c := config.Default()
	c.Name, c.Role, c.DataDir, c.HTTPAddr, c.Shards = name, string(config.RoleCentral), data, spec[0].HTTPAddr, spec[0].Shards
	c.Federation = &config.Federation{Listen: spec[0].P2PAddrs, RootPub: base.Federation.RootPub, RosterFile: filepath.Join(t.dir, "roster.json")}
	s := t.env
	s.maxStaleness, s.logLevel = base.MaxStaleness.Duration, base.Log.Level
	var ca *tlsca.CA
	if base.TLS.Enabled() {
		if ca, err = tlsca.Load(filepath.Join(t.dir, tlsca.CACertFile), filepath.Join(t.dir, tlsca.CAKeyFile)); err != nil {
			return member{}, fmt.Errorf("the federation's CA: %w", err)
		}
	}
	var failed error
	tuneFor(s, ca, &failed)(c)
	if failed != nil {
		return member{}, failed
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return member{}, err
	}
	path := filepath.Join(data, "node.toml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return member{}, err
	}
	scheme := "http://"
	if c.TLS.Enabled() {
		scheme = "https://"
	}
	return member{Name: name, Role: c.Role, Shards: c.Shards, P2P: spec[0].P2PAddrs, API: scheme + c.HTTPAddr,
		DataDir: data, Config: path, MaxStaleness: c.MaxStaleness.Duration}, nil
}

// wipeDataDir deletes what a lost machine loses: everything in the member's directory but its
// config, its API certificate (issued to the address, which the new machine keeps) and its log.
func wipeDataDir(m member) error {
	keep := []string{"node.toml", tlsca.CertFile, tlsca.KeyFile, "node.log"}
	entries, err := os.ReadDir(m.DataDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if slices.Contains(keep, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(m.DataDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// dropFromRoster removes name's entry from DIR/roster.json. The entries are kept as written (the
// tool does not read signed entries beyond their name).
func dropFromRoster(dir, name string) error {
	path := filepath.Join(dir, "roster.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	entries = slices.DeleteFunc(entries, func(raw json.RawMessage) bool {
		var se struct {
			Entry struct {
				Name string `json:"name"`
			} `json:"entry"`
		}
		return json.Unmarshal(raw, &se) == nil && se.Entry.Name == name
	})
	if b, err = json.MarshalIndent(entries, "", "  "); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// clientArgs points a fedarms client command at m with its admin token.
func clientArgs(m member) []string {
	args := []string{"--addr", m.API, "--token-file", m.tokenFile()}
	if caFile != "" {
		args = append(args, "--ca", caFile)
	}
	return args
}

// fedarms runs the fedarms binary and returns what it printed on stdout; a failure carries what
// it printed on both.
func (t *tool) fedarms(args ...string) (string, error) {
	cmd := exec.Command(t.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("fedarms %s: %w: %s%s", strings.Join(args[:2], " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// rewriteFedFile writes federation.json again after a change of members.
func (t *tool) rewriteFedFile() error {
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	return writeFedFile(t.dir, describe(ms, t.pids(ms)))
}

// centralAndPeer finds central node name among the federation's members, and another central node
// to act through; notCentral says what the command is for when name is not central.
func (t *tool) centralAndPeer(name, notCentral string) (member, member, error) {
	ms, err := loadMembers(t.dir)
	if err != nil {
		return member{}, member{}, err
	}
	m, err := find(ms, name)
	if err != nil {
		return member{}, member{}, err
	}
	if m.Role != string(config.RoleCentral) {
		return member{}, member{}, fmt.Errorf("%s is a %s node: %s", name, m.Role, notCentral)
	}
	via, err := t.otherCentral(ms, name)
	return m, via, err
}
