package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/tlsca"
	"github.com/fedarms/fedarms/node/fedplan"
)

// defaultMembers is the federation `up` lays out: three central voters, an NCB in Europe served by
// two nodes (ncb-fr, ncb-fr-2: one inbox, one decision per hit) and one in Africa, and two edges
// whose shard sets differ (and overlap), so that each edge holds some shards and must search others
// on a peer.
func defaultMembers() []fedplan.MemberSpec {
	return []fedplan.MemberSpec{
		{Name: "lyon-1", Role: config.RoleCentral, Shards: []string{"*"}},
		{Name: "lyon-2", Role: config.RoleCentral, Shards: []string{"*"}},
		{Name: "lyon-3", Role: config.RoleCentral, Shards: []string{"*"}},
		{Name: "ncb-fr", Role: config.RoleNCB, Country: "FR", Shards: []string{"europe"}},
		{Name: "ncb-ke", Role: config.RoleNCB, Country: "KE", Shards: []string{"africa"}},
		{Name: "ncb-fr-2", Role: config.RoleNCB, Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-cdg", Role: config.RoleEdge, Country: "FR", Shards: []string{"europe", "africa"}},
		{Name: "edge-nbo", Role: config.RoleEdge, Country: "KE", Shards: []string{"africa", "mena"}},
	}
}

// fedHolders are the members that take their shards from other holders, outside the shards'
// raft groups (shared/CONTRACTS.md "Local federation"), so that every drill covers a tier.
var fedHolders = map[string]bool{"edge-cdg": true}

// sourcesFor is what member name of specs takes each of its shards from when it is a fed holder
// (nil otherwise): its country's NCB nodes that hold the shard, in the layout's order (edge-cdg:
// europe from ncb-fr, then ncb-fr-2); the central nodes for a shard no such node holds (africa).
func sourcesFor(specs []fedplan.MemberSpec, name string) map[string][]string {
	if !fedHolders[name] {
		return nil
	}
	var self fedplan.MemberSpec
	var centrals []string
	for _, m := range specs {
		if m.Name == name {
			self = m
		}
		if m.Role == config.RoleCentral {
			centrals = append(centrals, m.Name)
		}
	}
	out := map[string][]string{}
	for _, shard := range self.Shards {
		var srcs []string
		for _, m := range specs {
			if m.Role == config.RoleNCB && m.Country == self.Country && slices.Contains(m.Shards, shard) {
				srcs = append(srcs, m.Name)
			}
		}
		if len(srcs) == 0 {
			srcs = centrals
		}
		out[shard] = srcs
	}
	return out
}

// freePorts finds n distinct free TCP ports on loopback. Every listener stays open until all are
// found, so the ports differ; another process may still take one before the node binds it, which
// the node then reports in its log.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// assignAddrs gives each member an HTTP address and a libp2p TCP address from ports (two per
// member, in order).
func assignAddrs(specs []fedplan.MemberSpec, ports []int) error {
	if len(ports) < 2*len(specs) {
		return fmt.Errorf("%d ports for %d members: want two each", len(ports), len(specs))
	}
	for i := range specs {
		specs[i].HTTPAddr = fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		specs[i].P2PAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[2*i+1])}
	}
	return nil
}

// place moves the members' libp2p addresses to s.p2pHost, and each member placed in a network
// namespace to its address there (HTTP too), keeping the ports.
func place(specs []fedplan.MemberSpec, s settings) {
	for i := range specs {
		host, httpHost := s.p2pHost, "127.0.0.1"
		if p, ok := s.netns[specs[i].Name]; ok {
			host, httpHost = p.addr, p.addr
		}
		_, port, _ := net.SplitHostPort(specs[i].HTTPAddr)
		specs[i].HTTPAddr = net.JoinHostPort(httpHost, port)
		for j, a := range specs[i].P2PAddrs {
			specs[i].P2PAddrs[j] = strings.Replace(a, "/ip4/127.0.0.1/", "/ip4/"+host+"/", 1)
		}
	}
}

// netnsFile names the network namespace a member is started in (DATA/netns), when it has one.
func netnsFile(dataDir string) string { return filepath.Join(dataDir, "netns") }

// tuneFor sets what a drill needs in every member's config: the fault switch, a short
// max_staleness and the log level; and, with a CA, the member's HTTPS certificate for loopback,
// issued into its data dir. An error issuing a certificate is kept in *failed.
func tuneFor(s settings, ca *tlsca.CA, failed *error) func(*config.Config) {
	return func(c *config.Config) {
		c.Federation.TestFaults = true
		c.MaxStaleness = config.Duration{Duration: s.maxStaleness}
		c.Log.Level = s.logLevel
		if s.snapshotThreshold > 0 {
			c.Raft.SnapshotThreshold = s.snapshotThreshold
		}
		if s.trailingLogs > 0 {
			c.Raft.TrailingLogs = s.trailingLogs
		}
		hosts := []string{"127.0.0.1", "localhost"}
		if p, ok := s.netns[c.Name]; ok {
			hosts = append(hosts, p.addr)
			c.Replication.MaxBandwidth = s.netnsBandwidth
			err := os.MkdirAll(c.DataDir, 0o700)
			if err == nil {
				err = os.WriteFile(netnsFile(c.DataDir), []byte(p.ns+"\n"), 0o644)
			}
			if err != nil && *failed == nil {
				*failed = fmt.Errorf("network namespace of %s: %w", c.Name, err)
			}
		}
		if ca == nil {
			return
		}
		if _, err := ca.Issue(c.DataDir, c.Name, hosts, tlsca.DefaultCertValidity, time.Now()); err != nil && *failed == nil {
			*failed = fmt.Errorf("certificate of %s: %w", c.Name, err)
		}
		c.TLS = config.TLS{CertFile: filepath.Join(c.DataDir, tlsca.CertFile), KeyFile: filepath.Join(c.DataDir, tlsca.KeyFile)}
	}
}

// layOut writes a new federation under dir: keys, signed roster and configs.
func layOut(dir string, s settings) error {
	specs := defaultMembers()
	ports, err := freePorts(2 * len(specs))
	if err != nil {
		return err
	}
	if err := assignAddrs(specs, ports); err != nil {
		return err
	}
	place(specs, s)
	// The API's CA beside the root key, as `fedarms federation init` makes it (LOCALFED_PLAIN=1:
	// plain HTTP, as before).
	var ca *tlsca.CA
	if !s.plain {
		if ca, err = tlsca.Create(dir, "localfed CA", time.Now()); err != nil {
			return err
		}
	}
	var failed error
	tune := tuneFor(s, ca, &failed)
	if _, err := fedplan.WriteFederation(dir, specs, func(c *config.Config) {
		tune(c)
		if !s.noFed {
			c.Replication.Sources = sourcesFor(specs, c.Name)
		}
	}); err != nil {
		return fmt.Errorf("lay out federation in %s: %w", dir, err)
	}
	return failed
}
