package drills

import (
	"os"
	"os/exec"
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
	cmd := exec.Command(gobin, "test", "-count=1", "-tags", "localfed", "-v",
		"-run", "TestDrill(Replication|EdgeOutage)", "-timeout", "15m", ".")
	cmd.Env = append(os.Environ(), "LOCALFED_SHORT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("short drills failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
