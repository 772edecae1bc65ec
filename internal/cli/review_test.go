package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/node/wire"
)

func TestRecordsReview(t *testing.T) {
	base, tf := serveNode(t)
	file := filepath.Join(t.TempDir(), "recs.jsonl")
	lines := `{"id":"FR-OLD","serial":"REV123","make":"Glock","calibre":"9x19","type":"pistol","recording_country":"FR","status":"stolen","review_date":"2001-01-31"}
{"id":"FR-NEW","serial":"REV124","make":"Glock","calibre":"9x19","type":"pistol","recording_country":"FR","status":"stolen","review_date":"2999-01-31"}
{"id":"KE-OLD","serial":"REV125","make":"Glock","calibre":"9x19","type":"pistol","recording_country":"KE","status":"stolen","review_date":"2002-02-28"}
`
	os.WriteFile(file, []byte(lines), 0o600)
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), append(args, "--addr", base, "--token-file", tf), nil, &out, &out)
		return code, out.String()
	}
	if code, out := run("import", file); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	code, out := run("records", "review")
	row := func(id string) []string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[0] == id {
				return f[:5]
			}
		}
		return nil
	}
	if code != 0 || strings.Join(row("FR-OLD"), " ") != "FR-OLD FR 2001-01-31 expired 2001-05-02" || row("KE-OLD") == nil || row("FR-NEW") != nil ||
		!strings.Contains(out, "grace 90d") {
		t.Fatalf("records review: exit %d\n%s", code, out)
	}
	if code, out = run("records", "review", "--country", "KE", "--json"); code != 0 {
		t.Fatalf("records review --country KE --json: exit %d\n%s", code, out)
	}
	var page wire.ReviewPage
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Records) != 1 || page.Records[0].ID != "KE-OLD" || page.Records[0].Record == nil {
		t.Fatalf("--json page %+v (%v):\n%s", page, err, out)
	}
	if code, out = run("records", "review", "--status", "due"); code != 0 || strings.Contains(out, "OLD") {
		t.Fatalf("records review --status due: exit %d\n%s", code, out)
	}
	if code, out = run("records", "review", "--status", "stale"); code == 0 || !strings.Contains(out, "status") {
		t.Fatalf("a bad status: exit %d\n%s", code, out)
	}
}
