//go:build localfed

package drills

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lossLine is the part of `fedarms restore --report --json` the rebuild drill reads.
type lossLine struct {
	Shard   string `json:"shard"`
	Status  string `json:"status"`
	Changes *struct {
		Added        []string `json:"added"`
		AddedCount   int      `json:"added_count"`
		ChangedCount int      `json:"changed_count"`
		RemovedCount int      `json:"removed_count"`
	} `json:"changes"`
}

// divergedShard is the part of GET /v1/shards that says a copy holds entries the rebuilt history
// does not.
type divergedShard struct {
	Shard        string `json:"shard"`
	Records      uint64 `json:"records"`
	Halted       string `json:"halted"`
	DivergedFrom uint64 `json:"diverged_from"`
	DivergedTo   uint64 `json:"diverged_to"`
}

// TestDrillRebuildFromBackup (drill g): lyon-1 is backed up while ncb-fr writes; more writes are
// acknowledged; then every central node is SIGKILLed and its data dir wiped. `localfed recover`
// rebuilds lyon-1 from the backup as the only voter of every group and replaces lyon-2 and lyon-3.
// The federation takes writes and answers searches again; every europe survivor halts the shard
// and names the entries only it holds; a backup of each, compared with lyon-1's, counts the
// records written after the backup (every acknowledged one among them); once each survivor's copy
// is rebuilt, every node converges.
func TestDrillRebuildFromBackup(t *testing.T) {
	f := startFed(t, "g")
	ncb := f.node("ncb-fr")
	fr := ncb.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	w := startWriters(ncb, fr, 2)
	time.Sleep(3 * time.Second)

	bk := filepath.Join(f.dir, "backup-lyon-1")
	t0 := time.Now()
	out := f.cli(t, "lyon-1", "backup", "--out", bk, "--identity", "--rate", "0")
	backedUp := time.Now()
	t.Logf("fedarms backup (%v):\n%s", backedUp.Sub(t0).Round(time.Millisecond), out)
	time.Sleep(3 * time.Second) // writes acknowledged after the backup: held by the survivors only
	before := w.finish()

	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
		f.localfed("kill", name)
	}
	lost := time.Now()
	var afterBackup []string
	var beforeBackup []string
	for _, a := range before {
		switch {
		case a.code/100 != 2:
		case a.end.Before(t0):
			beforeBackup = append(beforeBackup, a.id)
		case a.start.After(backedUp):
			afterBackup = append(afterBackup, a.id)
		}
	}
	t.Logf("%d writes acknowledged before the backup, %d after it", len(beforeBackup), len(afterBackup))

	out = f.localfed("recover", "lyon-1", bk)
	rebuilt := time.Since(lost)
	t.Logf("localfed recover lyon-1 (%v):\n%s", rebuilt.Round(time.Millisecond), out)
	measure(t, "g", "rebuild_from_backup", rebuilt.Seconds(), "s")
	f.reload()
	f.checkVoters(t, "lyon-1", "lyon-2", "lyon-3")

	// Writes and searches again. The europe survivors may already have halted (the joins' entries
	// reach them too) and refuse writes until their copy is rebuilt: write at the rebuilt node.
	lyon := f.node("lyon-1")
	w = startWritersAs(lyon, lyon.mint(t, "FR-NCB", "FR", "recorder", "searcher"), "R", 2)
	time.Sleep(3 * time.Second)
	after := w.finish()
	var acked []string
	for _, a := range after {
		if a.code/100 == 2 {
			acked = append(acked, a.id)
		}
	}
	if len(acked) == 0 {
		t.Fatalf("no write acknowledged at the rebuilt node (%d attempts)", len(after))
	}
	measure(t, "g", "writes_after_rebuild", float64(len(acked)), "writes")
	last := acked[len(acked)-1]
	serial := ""
	for _, a := range after {
		if a.id == last {
			serial = serialOf(a.id)
		}
	}
	for _, name := range []string{"lyon-1", "edge-nbo"} {
		n := f.node(name)
		tok := n.mint(t, "GS-SEARCH", "", "searcher")
		if !waitFor(10*time.Second, func() bool { sr, err := search(n, tok, serial); return err == nil && sr.has(last) }) {
			t.Fatalf("search at %s does not find %s, written after the rebuild", name, last)
		}
	}

	// Every europe survivor holds the entries written after the backup, and says so.
	survivors := []string{"ncb-fr", "ncb-fr-2", "edge-cdg"}
	halted := map[string]divergedShard{}
	if !waitFor(60*time.Second, func() bool {
		for _, name := range survivors {
			if _, ok := halted[name]; ok {
				continue
			}
			var st struct {
				Shards []divergedShard `json:"shards"`
			}
			n := f.node(name)
			if code, err := n.json(http.MethodGet, "/v1/shards", n.admin, nil, &st); err != nil || code != 200 {
				continue
			}
			for _, s := range st.Shards {
				if s.Shard == "europe" && s.DivergedTo != 0 {
					halted[name] = s
				}
			}
		}
		return len(halted) == len(survivors)
	}) {
		t.Fatalf("survivors halted: %v, want %v", halted, survivors)
	}
	for _, name := range survivors {
		s := halted[name]
		t.Logf("%s europe: entries %d-%d held here only, %d records in its copy: %s", name, s.DivergedFrom, s.DivergedTo, s.Records, s.Halted)
	}

	// The operator keeps each survivor's copy (a backup of it) and compares it with lyon-1's,
	// then rebuilds the survivor's copy from the federation.
	for _, name := range survivors {
		sbk := filepath.Join(f.dir, "backup-"+name)
		f.cli(t, name, "backup", "--out", sbk, "--rate", "0")
		rep := exec.Command(f.fedarms(), "restore", "--report", "--from", bk, "--survivor-backup", sbk, "--json")
		b, err := rep.Output()
		if err != nil {
			t.Fatalf("restore --report against %s: %v", name, err)
		}
		var r struct {
			Shards []lossLine `json:"shards"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		for _, l := range r.Shards {
			if l.Shard != "europe" {
				continue
			}
			if l.Status != "newer_elsewhere" || l.Changes == nil {
				t.Fatalf("%s europe against the backup: %+v", name, l)
			}
			t.Logf("%s europe: %d records added, %d changed, %d removed after the backup (first %v)", name,
				l.Changes.AddedCount, l.Changes.ChangedCount, l.Changes.RemovedCount, l.Changes.Added[:min(3, len(l.Changes.Added))])
			measure(t, "g", "records_only_at_"+name, float64(l.Changes.AddedCount+l.Changes.ChangedCount+l.Changes.RemovedCount), "records")
			if l.Changes.AddedCount < len(afterBackup) {
				t.Errorf("%s holds %d records the backup lacks, fewer than the %d writes acknowledged after it", name, l.Changes.AddedCount, len(afterBackup))
			}
			for _, id := range afterBackup {
				if len(l.Changes.Added) < 1000 && !slices.Contains(l.Changes.Added, id) {
					t.Errorf("acknowledged write %s, made after the backup, is not in %s's report", id, name)
					break
				}
			}
		}
		f.localfed("stop", name)
		if err := os.RemoveAll(filepath.Join(f.dir, name, "shards", "europe")); err != nil {
			t.Fatal(err)
		}
		f.localfed("start", name)
	}
	conv := f.waitConverged(t, 2*time.Minute)
	measure(t, "g", "converged_after_resync", conv.Seconds(), "s")
	measure(t, "g", "total_from_loss", time.Since(lost).Seconds(), "s")
	// The NCB takes writes again once its copy is rebuilt.
	w = startWritersAs(f.node("ncb-fr"), fr, "N", 1)
	time.Sleep(2 * time.Second)
	atNCB := 0
	for _, a := range w.finish() {
		if a.code/100 == 2 {
			acked = append(acked, a.id)
			atNCB++
		}
	}
	if atNCB == 0 {
		t.Error("ncb-fr takes no write once its copy is rebuilt")
	}
	f.waitConverged(t, time.Minute)
	f.checkAckedIDs(t, append(beforeBackup, acked...), "lyon-1", "lyon-2", "lyon-3", "ncb-fr", "ncb-fr-2", "edge-cdg")
	measure(t, "g", "writes_checked_everywhere", float64(len(beforeBackup)+len(acked)), "writes")
}

// serialOf is the serial probeRecord gives the record id (COUNTRY-RUN-NNNNN).
func serialOf(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) != 3 {
		return ""
	}
	var i int
	fmt.Sscanf(parts[2], "%d", &i)
	return probeRecord(parts[0], parts[1], i).Serial
}

// cli runs a fedarms client command against the named node with its admin token.
func (f *fed) cli(t *testing.T, name string, args ...string) string {
	t.Helper()
	n := f.node(name)
	args = append(args, "--addr", n.api)
	if b, err := os.ReadFile(filepath.Join(f.dir, "federation.json")); err == nil {
		var fj fedJSON
		if json.Unmarshal(b, &fj) == nil && fj.CAFile != "" {
			args = append(args, "--ca", fj.CAFile)
		}
	}
	cmd := exec.Command(f.fedarms(), args...)
	cmd.Env = append(os.Environ(), "FEDARMS_TOKEN="+n.admin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fedarms %s at %s: %v\n%s", args[0], name, err, out)
	}
	return string(out)
}

// checkAckedIDs checks that each of the nodes named holds every record id given.
func (f *fed) checkAckedIDs(t *testing.T, ids []string, names ...string) {
	t.Helper()
	for _, name := range names {
		n := f.node(name)
		lost := 0
		for _, id := range ids {
			if code, _, err := n.do(http.MethodGet, "/v1/records/"+id, n.admin, nil, ""); err != nil || code != 200 {
				lost++
				if lost <= 5 {
					t.Errorf("acknowledged record %s missing at %s: %d %v", id, name, code, err)
				}
			}
		}
		if lost > 0 {
			t.Errorf("%d of %d acknowledged records missing at %s", lost, len(ids), name)
		}
	}
}
