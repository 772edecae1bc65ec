package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
)

// serveFederation runs a two-member federation (one central, one edge) in-process and returns the
// central's API address, an admin token file for it, and the federation's directory (root.key,
// roster.json).
func serveFederation(t *testing.T) (string, string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts nodes over libp2p; skipped with -short")
	}
	var specs []fedplan.MemberSpec
	for _, s := range []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "edge-1", Role: "edge", Country: "FR", Shards: []string{"europe"}},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		s.HTTPAddr, s.P2PAddrs = "127.0.0.1:0", []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
		specs = append(specs, s)
	}
	layout, err := fedplan.WriteFederation(t.TempDir(), specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*node.Node
	for _, c := range layout.Configs {
		n, err := node.Open(c, node.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Shutdown(context.Background()) })
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	central := nodes[0]
	if err := central.Listen(); err != nil {
		t.Fatal(err)
	}
	go central.Serve()
	tf, err := ensureAdminToken(central, layout.Configs[0].DataDir)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + central.Addr(), tf, layout.Dir
}

func TestFederationAdmitRevokeRosterCommands(t *testing.T) {
	base, tf, dir := serveFederation(t)
	rootKey := filepath.Join(dir, "root.key")
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), args, nil, &out, &out)
		return code, out.String()
	}
	api := []string{"--addr", base, "--token-file", tf}
	code, out := run(append([]string{"federation", "roster"}, api...)...)
	if code != 0 || !strings.Contains(out, "edge-1") || !strings.Contains(out, "file") || strings.Contains(out, "REVOKED") {
		t.Fatalf("roster: exit %d\n%s", code, out)
	}
	if code, out = run(append([]string{"federation", "revoke", "nobody", "--root-key", rootKey}, api...)...); code != exitFailure || !strings.Contains(out, `no member named "nobody"`) {
		t.Fatalf("revoke of an unknown name: exit %d\n%s", code, out)
	}
	code, out = run(append([]string{"federation", "revoke", "edge-1", "--root-key", rootKey, "--reason", "device lost"}, api...)...)
	if code != 0 || !strings.Contains(out, "revoked edge-1") {
		t.Fatalf("revoke: exit %d\n%s", code, out)
	}
	code, out = run(append([]string{"federation", "roster"}, api...)...)
	if code != 0 || !strings.Contains(out, "REVOKED") || !strings.Contains(out, "device lost") {
		t.Fatalf("roster after revoke: exit %d\n%s", code, out)
	}
	// The revoked member's entry, still signed by the root key, cannot bring it back.
	roster, err := fedplan.LoadRoster(filepath.Join(dir, "roster.json"))
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "edge-1.json")
	for _, se := range roster {
		if se.Entry.Name == "edge-1" {
			b, _ := json.Marshal(se)
			os.WriteFile(old, b, 0o600)
		}
	}
	if code, out = run(append([]string{"federation", "admit", old}, api...)...); code != exitFailure || !strings.Contains(out, "409") {
		t.Fatalf("admit of a revoked member: exit %d\n%s", code, out)
	}
	// A new member, as an operator would add one: identity, signed entry, admission.
	code, out = run("federation", "identity", "--data", t.TempDir())
	if code != 0 {
		t.Fatalf("identity: exit %d\n%s", code, out)
	}
	code, out = run("federation", "sign", "--root-key", rootKey, "--peer-id", strings.TrimSpace(out), "--name", "edge-2",
		"--role", "edge", "--country", "FR", "--shards", "europe")
	if code != 0 {
		t.Fatalf("sign: exit %d\n%s", code, out)
	}
	entry := filepath.Join(t.TempDir(), "edge-2.json")
	os.WriteFile(entry, []byte(out), 0o600)
	if code, out = run(append([]string{"federation", "admit", entry}, api...)...); code != 0 || !strings.Contains(out, "admitted edge-2") {
		t.Fatalf("admit: exit %d\n%s", code, out)
	}
	code, out = run(append([]string{"federation", "roster", "--json"}, api...)...)
	var view wire.RosterView
	if code != 0 || json.Unmarshal([]byte(out), &view) != nil {
		t.Fatalf("roster --json: exit %d\n%s", code, out)
	}
	sources := map[string]string{}
	for _, m := range view.Members {
		sources[m.Entry.Name] = m.Source
	}
	if len(sources) != 2 || sources["edge-2"] != "control" || sources["lyon-1"] != "file" || len(view.Revoked) != 1 {
		t.Fatalf("roster --json: %+v", view)
	}
	if code, out = run(append([]string{"federation", "admit", filepath.Join(dir, "roster.json")}, api...)...); code != exitFailure || !strings.Contains(out, "not a signed roster entry") {
		t.Fatalf("admit of a roster file: exit %d\n%s", code, out)
	}
}
