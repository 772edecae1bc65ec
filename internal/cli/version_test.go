package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/node"
)

func TestVersionIsWhatMembersReport(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"version"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != node.Version || got == "" {
		t.Fatalf("fedarms version printed %q, a node reports %q", got, node.Version)
	}
	out.Reset()
	if code := Run(context.Background(), []string{"version", "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errb.String())
	}
	var b struct {
		Release string `json:"release"`
		Go      string `json:"go"`
	}
	if err := json.Unmarshal(out.Bytes(), &b); err != nil || b.Release != node.Version || !strings.HasPrefix(b.Go, "go1.") {
		t.Fatalf("--json: %v %+v from %s", err, b, out.String())
	}
}
