package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
)

// TestPackageContents builds both packages around a stand-in binary (building the real one is
// scripts/package's job and takes minutes) and reads the .deb back: every path the issue and the
// contract name is there with its mode, the examples are conffiles, the version is the one given.
func TestPackageContents(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	work, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "fedarms"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(work, "man"), 0o755)
	for _, page := range []string{"fedarms.1", "fedarms-agent.1"} {
		os.WriteFile(filepath.Join(work, "man", page), []byte(".TH FEDARMS 1\n"), 0o644)
	}
	b := &build{repo: repo, work: work, out: out, version: "1.2.3", mtime: time.Unix(1767225600, 0).UTC()}
	if err := b.prepare(); err != nil {
		t.Fatal(err)
	}
	deb, err := b.pack("deb")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(deb) != "fedarms_1.2.3_amd64.deb" {
		t.Errorf("deb named %s, the contract says fedarms_<version>_amd64.deb", filepath.Base(deb))
	}
	rpm, err := b.pack("rpm")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(rpm), "fedarms-1.2.3") || !strings.HasSuffix(rpm, ".rpm") {
		t.Errorf("rpm named %s", filepath.Base(rpm))
	}

	members := readAr(t, deb)
	modes := tarModes(t, members["data.tar.gz"])
	for path, mode := range map[string]os.FileMode{
		"./usr/bin/fedarms":                       0o755,
		"./lib/systemd/system/fedarms.service":    0o644,
		"./usr/lib/sysusers.d/fedarms.conf":       0o644,
		"./etc/fedarms/":                          0o750,
		"./etc/fedarms/credentials/":              0o700,
		"./etc/fedarms/examples/central.toml":     0o644,
		"./etc/fedarms/examples/ncb.toml":         0o644,
		"./etc/fedarms/examples/edge.toml":        0o644,
		"./var/lib/fedarms/":                      0o700,
		"./usr/share/man/man1/fedarms.1.gz":       0o644,
		"./usr/share/man/man1/fedarms-agent.1.gz": 0o644,
		"./usr/share/doc/fedarms/copyright":       0o644,
		"./usr/share/doc/fedarms/changelog.gz":    0o644,
	} {
		got, ok := modes[path]
		if !ok {
			t.Errorf("%s missing from the .deb", path)
		} else if got != mode {
			t.Errorf("%s has mode %o, want %o", path, got, mode)
		}
	}
	control := tarFiles(t, members["control.tar.gz"])
	for _, want := range []string{"Package: fedarms\n", "Version: 1.2.3\n", "Architecture: amd64\n"} {
		if !strings.Contains(control["./control"], want) {
			t.Errorf("control lacks %q:\n%s", want, control["./control"])
		}
	}
	for _, role := range []string{"central", "ncb", "edge"} {
		if !strings.Contains(control["./conffiles"], "/etc/fedarms/examples/"+role+".toml") {
			t.Errorf("the %s example is not a conffile: %q", role, control["./conffiles"])
		}
	}
	if !strings.Contains(control["./postinst"], "systemd-sysusers") {
		t.Error("postinst does not create the system user")
	}
}

// TestExampleConfigsAreValid: the examples the packages ship pass the node's own config check.
func TestExampleConfigsAreValid(t *testing.T) {
	for _, role := range []string{"central", "ncb", "edge"} {
		f, err := os.Open(filepath.Join("..", "..", "deploy", "config", role+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Parse(f)
		f.Close()
		if err != nil {
			t.Errorf("%s.toml: %v", role, err)
			continue
		}
		if c.Role != role || c.Federation == nil || c.DataDir != "/var/lib/fedarms" {
			t.Errorf("%s.toml: role %q, data_dir %q, federation %v", role, c.Role, c.DataDir, c.Federation != nil)
		}
	}
}

// readAr splits a Debian package (an ar archive) into its members.
func readAr(t *testing.T, path string) map[string][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("!<arch>\n")) {
		t.Fatalf("%s is not an ar archive", path)
	}
	out := map[string][]byte{}
	for p := 8; p+60 <= len(raw); {
		hdr := raw[p : p+60]
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(hdr[48:58])))
		if err != nil || p+60+size > len(raw) {
			t.Fatalf("bad ar member header %q", hdr)
		}
		out[name] = raw[p+60 : p+60+size]
		p += 60 + size + size%2
	}
	return out
}

func tarEach(t *testing.T, gz []byte, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

func tarModes(t *testing.T, gz []byte) map[string]os.FileMode {
	m := map[string]os.FileMode{}
	tarEach(t, gz, func(h *tar.Header, _ io.Reader) { m[h.Name] = os.FileMode(h.Mode).Perm() })
	return m
}

func tarFiles(t *testing.T, gz []byte) map[string]string {
	m := map[string]string{}
	tarEach(t, gz, func(h *tar.Header, r io.Reader) {
		b, _ := io.ReadAll(r)
		m[h.Name] = string(b)
	})
	return m
}

// TestEveryAlertHasARunbookSection: each rule in deploy/prometheus/alerts.yml links to a section
// of the runbook the packages ship, and that section exists.
func TestEveryAlertHasARunbookSection(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			anchors[strings.ToLower(strings.ReplaceAll(strings.TrimSpace(h), " ", "-"))] = true
		}
	}
	alerts, links := 0, 0
	for _, line := range strings.Split(string(rules), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "- alert: ") {
			alerts++
		}
		if u, ok := strings.CutPrefix(line, "runbook_url: "); ok {
			links++
			_, anchor, _ := strings.Cut(strings.Trim(u, `"`), "#")
			if !strings.HasPrefix(strings.Trim(u, `"`), "docs/operations.md#") || !anchors[anchor] {
				t.Errorf("runbook_url %s: no such section in docs/operations.md", u)
			}
		}
	}
	if alerts == 0 || links != alerts {
		t.Fatalf("%d alert rules, %d runbook_url annotations: every rule needs one", alerts, links)
	}
}
