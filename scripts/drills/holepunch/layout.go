package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node/fedplan"
)

// p2pPort is every member's libp2p port. Each member has a network namespace of its own, so they
// can share it; a NAT that preserves ports then maps an edge's 4001 to 4001 outside.
const p2pPort = 4001

// plan is the drill's federation as laid out: who runs in which namespace, where its API and files
// are. It is written to DIR/drill.json by `layout` and read by the other commands.
type plan struct {
	Family    string   `json:"family"`    // ip4 or ip6
	Transport string   `json:"transport"` // tcp or quic
	Members   []member `json:"members"`
}

// member is one agent of the drill.
type member struct {
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	NS        string   `json:"netns"`
	API       string   `json:"api"` // inside its namespace
	Config    string   `json:"config"`
	Log       string   `json:"log"`
	TokenFile string   `json:"token_file"`
	P2P       []string `json:"p2p"`
}

// listenAddr is the libp2p multiaddr of ip for the family and transport.
func listenAddr(family, transport, ip string) (string, error) {
	if family != "ip4" && family != "ip6" {
		return "", fmt.Errorf("family %q: want ip4 or ip6", family)
	}
	switch transport {
	case "tcp":
		return fmt.Sprintf("/%s/%s/tcp/%d", family, ip, p2pPort), nil
	case "quic":
		return fmt.Sprintf("/%s/%s/udp/%d/quic-v1", family, ip, p2pPort), nil
	}
	return "", fmt.Errorf("transport %q: want tcp or quic", transport)
}

// layout writes a federation of one central node (hub, on the public segment) and two edges, each
// listening only on its private address behind its NAT, for one family and transport.
func layout(args []string) error {
	fs := flag.NewFlagSet("layout", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to lay the federation out in (must not hold one)")
	family := fs.String("family", "ip6", "ip4 or ip6")
	transport := fs.String("transport", "tcp", "tcp or quic")
	hubIP := fs.String("hub", "", "the central node's address on the public segment")
	aIP := fs.String("edge-a", "", "edge-a's private address")
	bIP := fs.String("edge-b", "", "edge-b's private address")
	hubNS := fs.String("ns-hub", "fp-pub", "the central node's namespace")
	aNS := fs.String("ns-a", "fp-a", "edge-a's namespace")
	bNS := fs.String("ns-b", "fp-b", "edge-b's namespace")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *hubIP == "" || *aIP == "" || *bIP == "" {
		return errors.New("layout: -dir, -hub, -edge-a and -edge-b are required")
	}
	if _, err := os.Stat(filepath.Join(*dir, "roster.json")); err == nil {
		return fmt.Errorf("layout: %s already holds a federation", *dir)
	}
	specs := []fedplan.MemberSpec{
		{Name: "hub", Role: config.RoleCentral, Shards: []string{"*"}},
		{Name: "edge-a", Role: config.RoleEdge, Country: "FR", Shards: []string{"europe", "africa"}},
		{Name: "edge-b", Role: config.RoleEdge, Country: "KE", Shards: []string{"europe", "africa"}},
	}
	nss := []string{*hubNS, *aNS, *bNS}
	listen := map[string][]string{}
	for i, ip := range []string{*hubIP, *aIP, *bIP} {
		a, err := listenAddr(*family, *transport, ip)
		if err != nil {
			return fmt.Errorf("layout: %w", err)
		}
		listen[specs[i].Name] = []string{a}
		specs[i].HTTPAddr = "127.0.0.1:8080" // each namespace has a loopback of its own
	}
	// The hub's roster entry gives its public address. An edge behind NAT has no address anyone
	// could dial, so its entry gives none (the others reach it through the hub's relay), but it
	// listens on its private address: libp2p then dials out from that port, the NAT keeps it, and
	// identify tells the edge its outside address, which hole punching needs.
	specs[0].P2PAddrs = listen["hub"]
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	l, err := fedplan.WriteFederation(abs, specs, func(c *config.Config) {
		// Debug, in JSON, so the checker can read libp2p's hole punching, identify and observed
		// address logs, which go-libp2p writes through the node's logger.
		c.Log.Level, c.Log.Format = "debug", "json"
		c.Federation.Listen = listen[c.Name]
	})
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	p := plan{Family: *family, Transport: *transport}
	for i, c := range l.Configs {
		p.Members = append(p.Members, member{Name: c.Name, Role: c.Role, NS: nss[i], API: "http://" + c.HTTPAddr,
			Config: l.Files[i], Log: filepath.Join(c.DataDir, "node.log"), TokenFile: filepath.Join(c.DataDir, "admin.token"),
			P2P: listen[c.Name]})
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(abs, "drill.json"), b, 0o600)
}

func readPlan(dir string) (plan, error) {
	var p plan
	b, err := os.ReadFile(filepath.Join(dir, "drill.json"))
	if err != nil {
		return p, fmt.Errorf("plan: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("plan %s: %w", dir, err)
	}
	return p, nil
}
