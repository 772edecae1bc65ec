// Command packagetool builds fedarms' .deb and .rpm packages (scripts/package runs it): the binary
// built from ./cmd/fedarms with its release set at build time, the hardened systemd unit and its
// system user, an example config per role in /etc/fedarms/examples, /var/lib/fedarms (0700), the
// man pages the binary generates from its own command tree, and the operators' runbook. It uses
// nfpm as a library, so it needs neither dpkg nor rpm nor the network. It imports no fedarms
// package: it drives the binary it built, as an operator would.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "dist", "directory for the packages")
	ver := flag.String("version", os.Getenv("VERSION"), "release to build (default: what `fedarms version` of a plain build prints)")
	keep := flag.Bool("keep", false, "keep the work directory (binary, man pages, scripts) and print its path")
	flag.Parse()
	if err := run(*out, *ver, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(out, ver string, keep bool) error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		return fmt.Errorf("run from the module's root (scripts/package does): %w", err)
	}
	work, err := os.MkdirTemp("", "fedarms-package-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	b := &build{repo: repo, work: work, out: out, mtime: sourceDate()}
	if err := b.compile(ver); err != nil {
		return err
	}
	if err := b.prepare(); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, format := range []string{"deb", "rpm"} {
		path, err := b.pack(format)
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%d bytes\n", path, st.Size())
	}
	return nil
}

// sourceDate is the time stamped on every file: $SOURCE_DATE_EPOCH when set, so that two builds
// of one tree give the same packages, else now.
func sourceDate() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// compile builds a position-independent binary that links no C library (cgo off), so one package
// fits every distribution release: it needs only the dynamic loader, for the relocations PIE
// takes (address space randomisation; and Debian's checker rightly flags a static binary). It
// reads its release back from `fedarms version`: the packages are named after what
// the binary reports.
func (b *build) compile(ver string) error {
	ldflags := "-s -w"
	if ver != "" {
		ldflags += " -X github.com/fedarms/fedarms/internal/version.release=" + ver
	}
	bin := filepath.Join(b.work, "fedarms")
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=pie", "-ldflags", ldflags, "-o", bin, "./cmd/fedarms")
	cmd.Dir, cmd.Stdout, cmd.Stderr = b.repo, os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	v, err := exec.Command(bin, "version").Output()
	if err != nil {
		return fmt.Errorf("fedarms version: %w", err)
	}
	b.version = strings.TrimSpace(string(v))
	if ver != "" && b.version != ver {
		return fmt.Errorf("built %q but the binary reports %q", ver, b.version)
	}
	if m, err := exec.Command(bin, "man", "--dir", filepath.Join(b.work, "man")).CombinedOutput(); err != nil {
		return fmt.Errorf("fedarms man: %w: %s", err, m)
	}
	return nil
}
