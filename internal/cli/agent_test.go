package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("version = 1\nname = \"edge-cdg\"\nrole = \"edge\"\ncountry = \"FR\"\nshards = [\"europe\"]\n"), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("version = 1\nname = \"edge-cdg\"\nrole = \"edge\"\ncountry = \"XX\"\nshards = [\"atlantis\"]\ncolour = \"red\"\n"), 0o600)

	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"agent", "--config", good, "--check"}, nil, &out, &errb); code != 0 {
		t.Fatalf("good config: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	code := Run(context.Background(), []string{"agent", "--config", bad, "--check"}, nil, &out, &errb)
	if code != exitFailure {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{"country", `"XX"`, "shards[0]", `"atlantis"`, "colour: unknown key"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("problems do not mention %s:\n%s", want, errb.String())
		}
	}
	if code := Run(context.Background(), []string{"agent", "--check"}, nil, &out, &errb); code == 0 {
		t.Fatal("missing --config accepted")
	}
}

func TestGenIsDeterministic(t *testing.T) {
	gen := func(seed string) string {
		var out bytes.Buffer
		if code := Run(context.Background(), []string{"gen", "--records", "50", "--seed", seed}, nil, &out, &out); code != 0 {
			t.Fatalf("gen exit %d: %s", code, out.String())
		}
		return out.String()
	}
	a, b, c := gen("3"), gen("3"), gen("4")
	if a != b || a == c || strings.Count(a, "\n") != 50 {
		t.Fatal("gen is not deterministic per seed")
	}
}
