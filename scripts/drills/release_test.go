//go:build localfed

package drills

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// earlierRelease is the commit of the last released main that the mixed-release drills run beside
// the current tree. Its binaries are built once from `git archive` and kept in the user's cache
// directory, keyed by the commit, for the next run.
const earlierRelease = "08e5491"

// earlierReleaseName is the release string the earlier binaries are stamped with.
const earlierReleaseName = "0.1.0+" + earlierRelease

// earlierBins returns a directory holding fedarms and localfedtool of earlierRelease, building
// them when the cache has none. It skips the test, saying why, when git or the commit is missing
// (a shallow clone, an export without history).
func earlierBins(t *testing.T) string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not on PATH: the earlier release cannot be built")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(git, "-C", root, "rev-parse", "--verify", "--quiet", earlierRelease+"^{commit}").Output()
	if err != nil {
		t.Skipf("commit %s (the earlier release) is not in this repository (a shallow clone?): the mixed-release drill is skipped", earlierRelease)
	}
	commit := strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	base := filepath.Join(cache, "fedarms-releases")
	dir := filepath.Join(base, commit)
	if isExec(filepath.Join(dir, "fedarms")) && isExec(filepath.Join(dir, "localfedtool")) {
		t.Logf("earlier release %s: cached binaries in %s", earlierRelease, dir)
		return dir
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(base, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	t0 := time.Now()
	src, bin := filepath.Join(tmp, "src"), filepath.Join(tmp, "bin")
	tarball := filepath.Join(tmp, "src.tar")
	run(t, root, nil, git, "archive", "--format=tar", "-o", tarball, commit)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, src, nil, "tar", "-xf", tarball)
	env := []string{"GOWORK=off", "GOFLAGS=-mod=readonly"}
	ldflags := "-X github.com/fedarms/fedarms/internal/version.release=" + earlierReleaseName
	run(t, src, env, "go", "build", "-ldflags", ldflags, "-o", filepath.Join(bin, "fedarms"), "./cmd/fedarms")
	run(t, src, env, "go", "build", "-o", filepath.Join(bin, "localfedtool"), "./scripts/localfedtool")
	if err := os.Rename(bin, dir); err != nil && !isExec(filepath.Join(dir, "fedarms")) {
		t.Fatalf("keeping the earlier release in %s: %v", dir, err)
	}
	t.Logf("earlier release %s: built in %.1fs into %s", earlierRelease, time.Since(t0).Seconds(), dir)
	return dir
}

// currentBins builds fedarms and localfedtool of the current tree into a fresh directory.
func currentBins(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run(t, root, nil, "go", "build", "-o", filepath.Join(dir, "fedarms"), "./cmd/fedarms")
	run(t, root, nil, "go", "build", "-o", filepath.Join(dir, "localfedtool"), "./scripts/localfedtool")
	return dir
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func isExec(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// startOn starts a stopped node with the binaries in bin.
func (f *fed) startOn(bin, name string) {
	f.t.Helper()
	full := []string{"start", f.dir, name}
	cmd := exec.Command(f.script, full...)
	cmd.Env = append(append(os.Environ(), f.env...), "LOCALFED_NO_BUILD=1", "LOCALFED_BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("localfed start %s on %s: %v\n%s", name, bin, err, out)
	}
}

// swap stops a node and starts it again on the binaries in bin (a release swapped in place).
func (f *fed) swap(bin, name string) time.Duration {
	f.t.Helper()
	t0 := time.Now()
	f.localfed("stop", name)
	f.startOn(bin, name)
	return time.Since(t0)
}

// memberView is the part of GET /v1/cluster/members the upgrade drills read.
type memberView struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Version string `json:"version"`
	Formats map[string]struct {
		Newest int `json:"reads_newest"`
		Writes int `json:"writes"`
	} `json:"formats"`
	FormatsReported bool `json:"formats_reported"`
}

func (n *nodeClient) members() (map[string]memberView, error) {
	var out struct {
		Members []memberView `json:"members"`
	}
	if _, err := n.json("GET", "/v1/cluster/members", n.admin, nil, &out); err != nil {
		return nil, err
	}
	m := map[string]memberView{}
	for _, v := range out.Members {
		m[v.Name] = v
	}
	return m, nil
}

// upgradeView is the part of GET /v1/federation/upgrade the drills read.
type upgradeView struct {
	CanFinalize bool           `json:"can_finalize"`
	Blockers    []string       `json:"blockers"`
	Finalized   map[string]int `json:"finalized"`
}

func (n *nodeClient) upgrade() (upgradeView, error) {
	var v upgradeView
	_, err := n.json("GET", "/v1/federation/upgrade", n.admin, nil, &v)
	return v, err
}

// halts returns, by shard, why the node's copy halted (empty when it applies).
func (n *nodeClient) halts() (map[string]string, error) {
	var out struct {
		Shards []struct {
			Shard  string `json:"shard"`
			Halted string `json:"halted"`
		} `json:"shards"`
	}
	if _, err := n.json("GET", "/v1/shards", n.admin, nil, &out); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, s := range out.Shards {
		m[s.Shard] = s.Halted
	}
	return m, nil
}

// leaderOf is the leader of shard as node n knows it.
func (n *nodeClient) leaderOf(shard string) (string, error) {
	ss, err := n.shardsOf()
	if err != nil {
		return "", err
	}
	s, ok := ss[shard]
	if !ok {
		return "", fmt.Errorf("%s does not hold %s", n.name, shard)
	}
	return s.Leader, nil
}
