package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScreenJSONLinesAndCSV(t *testing.T) {
	base, tf := serveNode(t)
	dir := t.TempDir()
	recs := filepath.Join(dir, "recs.jsonl")
	os.WriteFile(recs, []byte(`{"id":"FR-1","serial":"BXK123","make":"Glock","model":"17","calibre":"9x19","type":"pistol","recording_country":"FR","status":"stolen"}
{"id":"KE-1","serial":"AK 4711","make":"Izhmash","calibre":"7.62x39","type":"rifle","recording_country":"KE","status":"smuggled"}
`), 0o600)
	flags := []string{"--addr", base, "--token-file", tf}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append(args, flags...), nil, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := run("import", recs); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}

	manifest := filepath.Join(dir, "manifest.jsonl")
	os.WriteFile(manifest, []byte(`{"serial":"bxk-123","make":"glock"}
{"serial":"ZZZ999000"}
{"make":"Glock"}
{"serial":"AK4711"}
`), 0o600)
	code, out, errOut := run("screen", manifest)
	if code != exitRejected || !strings.Contains(errOut, "screened 4 lines: 2 with a HIT, 1 not searched") ||
		!strings.Contains(errOut, "line 1: HIT FR-1") || !strings.Contains(errOut, "line 4: HIT KE-1") {
		t.Fatalf("screen jsonl: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "\n"); n != 4 || !strings.Contains(out, `"line":3`) || !strings.Contains(out, `"invalid_field"`) {
		t.Fatalf("answers:\n%s", out)
	}

	// CSV in, CSV out: the line is the CSV file's line, the header counts.
	catalogue := filepath.Join(dir, "catalogue.csv")
	os.WriteFile(catalogue, []byte("serial,make,model\nZZZ999000,Beretta,92\nBXK 123,Glock,17\n"), 0o600)
	answers := filepath.Join(dir, "answers.csv")
	code, out, errOut = run("screen", catalogue, "--out", answers)
	if code != 0 || !strings.Contains(errOut, "line 3: HIT FR-1") {
		t.Fatalf("screen csv: exit %d\n%s\n%s", code, out, errOut)
	}
	f, _ := os.Open(answers)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 3 || rows[0][1] != "verdict" || rows[1][0] != "2" || rows[2][0] != "3" || rows[2][1] != "HIT" || rows[2][2] != "FR-1" {
		t.Fatalf("answers.csv: %v %v", rows, err)
	}

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("serial,colour\nA1,red\n"), 0o600)
	if code, _, errOut = run("screen", bad); code == 0 || !strings.Contains(errOut, `unknown CSV column "colour"`) {
		t.Fatalf("bad csv: exit %d %s", code, errOut)
	}
}
