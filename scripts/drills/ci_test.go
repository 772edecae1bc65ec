package drills

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShortDrills runs the CI size of drills a and b (a multi-process federation on loopback:
// replication, an edge killed and an edge cut while records are written) as part of the ordinary
// test suite, so that `go test ./...` exercises the real processes too. The drills themselves sit
// behind the localfed build tag (their full size takes many minutes); this runs them through the go
// command with that tag and LOCALFED_SHORT=1, about a minute. -short skips it.
func TestShortDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the multi-process drills are skipped")
	}
	if os.Getenv("LOCALFED_SHORT") != "" {
		t.Skip("already inside a drill run")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	readSources(t)
	cmd := exec.Command(gobin, "test", "-count=1", "-tags", "localfed", "-v",
		"-run", "TestDrill(Replication|EdgeOutage|MixedRelease)", "-timeout", "15m", ".")
	cmd.Env = append(os.Environ(), "LOCALFED_SHORT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("short drills failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// readSources reads every file the drills' build depends on. The go command caches a test's result
// by what the test process itself opens; the drills build the module in a child process, so without
// this a change anywhere else would leave a stale "ok" in the cache.
func readSources(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "bench-out" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" ||
			strings.HasPrefix(p, filepath.Join(root, "scripts")) || strings.Contains(p, "console") {
			_, err := os.ReadFile(p)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the sources: %v", err)
	}
}
