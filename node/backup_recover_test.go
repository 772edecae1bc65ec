package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// Every central node is lost. A central node restarted under its old key on an empty data dir is
// refused; the federation is rebuilt from lyon-1's backup around lyon-1 alone, which elects itself
// in every group and takes writes again; the NCB, which applied writes made after the backup,
// halts europe and names the entries only it may hold, its copy untouched; once its copy is
// rebuilt it converges with the rebuilt federation.
func TestFederationRebuiltFromOneBackup(t *testing.T) {
	fc := startFederation(t, []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-fr", Role: "ncb", Country: "FR", Shards: []string{"europe"}},
	}, nil)
	fc.importAt("lyon-1", fc.admin(), fedRecords("FR", 0, 500))
	testutil.WaitFor(t, 30*time.Second, "every copy to converge", fc.converged)

	var tarball bytes.Buffer
	if err := fc.nodes["lyon-1"].Backup(t.Context(), fc.admin(), wire.BackupRequest{Identity: true}, &tarball); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	m, err := ReceiveBackup(&tarball, dir)
	if err != nil {
		t.Fatal(err)
	}
	fc.importAt("lyon-1", fc.admin(), fedRecords("FR", 500, 800))
	testutil.WaitFor(t, 30*time.Second, "every copy to converge", fc.converged)
	ncb := fc.nodes["ncb-fr"]
	held := shardOf(t, ncb, "europe")

	cfgs := map[string]*Node{}
	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
		cfgs[name] = fc.nodes[name]
		fc.nodes[name].Close()
		delete(fc.nodes, name)
	}
	// lyon-2's disk is replaced and its key put back: it would vote without its log.
	c2 := cfgs["lyon-2"].cfg
	key, err := os.ReadFile(filepath.Join(c2.DataDir, transport.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cfgs {
		if err := os.RemoveAll(n.cfg.DataDir); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(c2.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c2.DataDir, transport.IdentityFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := Open(c2, Options{Logger: testLogger(t, "lyon-2")}); err == nil {
		n.Close()
		t.Fatal("a central node on an empty data dir started")
	} else if !strings.Contains(err.Error(), "federation join") || !strings.Contains(err.Error(), "restore") {
		t.Fatalf("refusal does not say how to come back: %v", err)
	}

	c1 := cfgs["lyon-1"].cfg
	if _, err := RestoreBackup(dir, c1.DataDir, RestoreOptions{Now: time.Now, Recover: true, Reason: "every central node lost"}); err != nil {
		t.Fatal(err)
	}
	n, err := Open(c1, Options{Logger: testLogger(t, "lyon-1")})
	if err != nil {
		t.Fatal(err)
	}
	fc.nodes["lyon-1"] = n
	testutil.WaitFor(t, 30*time.Second, "the rebuilt node to lead every group", func() bool {
		for _, g := range n.votingGroups() {
			if !g.g.IsLeader() {
				return false
			}
		}
		return true
	})
	for _, g := range n.votingGroups() {
		servers, err := g.g.Servers()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			if s.Suffrage == raft.Voter && s.ID != "lyon-1" {
				t.Fatalf("%s keeps voter %s after the rebuild", g.name, s.ID)
			}
		}
	}
	if rep, err := n.audit.Tail(10); err != nil || !hasAction(rep, "federation.recover") {
		t.Fatalf("no federation.recover in the audit log: %v %+v", err, rep)
	}

	// Written to the rebuilt federation: europe's history there differs from the NCB's past the
	// backup.
	fc.importAt("lyon-1", fc.admin(), fedRecords("FR", 2000, 2100))
	if st := shardOf(t, n, "europe"); st.Records != 600 {
		t.Fatalf("rebuilt europe holds %d records, want 500 from the backup and 100 since", st.Records)
	}
	var st wire.ShardStatus
	testutil.WaitFor(t, 30*time.Second, "the NCB to halt europe", func() bool {
		st = shardOf(t, ncb, "europe")
		return st.Halted != ""
	})
	t.Logf("ncb-fr: %s", st.Halted)
	if st.DivergedTo != held.AppliedIndex || st.DivergedFrom <= m.Shards[shardIndex(m, "europe")].AppliedIndex || st.Records != 800 || st.Digest != held.Digest {
		t.Fatalf("ncb-fr europe: diverged %d-%d, %d records (%s); it held %d records at %d (%s), the backup is at %d",
			st.DivergedFrom, st.DivergedTo, st.Records, st.Digest, held.Records, held.AppliedIndex, held.Digest, m.Shards[shardIndex(m, "europe")].AppliedIndex)
	}

	// The operator keeps the NCB's copy (a backup of it names the 300 records), then rebuilds it.
	var sb bytes.Buffer
	if err := ncb.Backup(t.Context(), fc.admin(), wire.BackupRequest{}, &sb); err != nil {
		t.Fatal(err)
	}
	sdir := filepath.Join(t.TempDir(), "ncb-fr")
	sm, err := ReceiveBackup(&sb, sdir)
	if err != nil {
		t.Fatal(err)
	}
	rep := CompareBackup(m, []Survivor{SurvivorFromBackup(sdir, sm)})
	if err := DescribeChanges(dir, rep, []Survivor{SurvivorFromBackup(sdir, sm)}, 10); err != nil {
		t.Fatal(err)
	}
	for _, l := range rep {
		if l.Shard == "europe" && (l.Changes == nil || l.Changes.AddedCount != 300) {
			t.Fatalf("europe against ncb-fr's backup: %+v %+v", l, l.Changes)
		}
	}
	nc := ncb.cfg
	ncb.Close()
	if err := os.RemoveAll(filepath.Join(nc.DataDir, "shards", "europe")); err != nil {
		t.Fatal(err)
	}
	ncb, err = Open(nc, Options{Logger: testLogger(t, "ncb-fr")})
	if err != nil {
		t.Fatal(err)
	}
	fc.nodes["ncb-fr"] = ncb
	testutil.WaitFor(t, 60*time.Second, "the NCB's rebuilt copy to converge", func() bool {
		s := shardOf(t, ncb, "europe")
		return s.Halted == "" && s.Records == 600 && fc.converged()
	})
}

func shardOf(t *testing.T, n *Node, shard string) wire.ShardStatus {
	t.Helper()
	for _, s := range n.Shards() {
		if s.Shard == shard {
			return s
		}
	}
	t.Fatalf("%s holds no %s", n.cfg.Name, shard)
	return wire.ShardStatus{}
}

func shardIndex(m BackupManifest, shard string) int {
	for i, s := range m.Shards {
		if s.Shard == shard {
			return i
		}
	}
	return -1
}

func hasAction(es []audit.Entry, action string) bool {
	for _, e := range es {
		if e.Action == action {
			return true
		}
	}
	return false
}
