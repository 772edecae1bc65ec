package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

const maintainer = "fedarms maintainers <maintainers@fedarms.invalid>"

// build is one run: the repo it packages, a work dir with the binary and generated files, the
// output dir, the release and the time stamped on every file.
type build struct {
	repo, work, out string
	version         string
	mtime           time.Time
}

// prepare writes what the packages hold beside the binary: compressed man pages, the changelog and
// copyright files Debian requires, and the maintainer scripts.
func (b *build) prepare() error {
	pages, err := filepath.Glob(filepath.Join(b.work, "man", "*.1"))
	if err != nil || len(pages) == 0 {
		return fmt.Errorf("no man pages in %s", filepath.Join(b.work, "man"))
	}
	for _, p := range pages {
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := writeGzip(p+".gz", raw); err != nil {
			return err
		}
	}
	changelog := fmt.Sprintf("fedarms (%s) unstable; urgency=medium\n\n  * Release %s; see the project's history for the changes.\n\n -- %s  %s\n",
		b.version, b.version, maintainer, b.mtime.Format(time.RFC1123Z))
	if err := writeGzip(filepath.Join(b.work, "changelog.gz"), []byte(changelog)); err != nil {
		return err
	}
	for name, body := range map[string]string{"copyright": copyright, "postinst": postinst, "prerm": prerm, "postrm": postrm,
		"lintian-overrides": lintianOverrides} {
		if err := os.WriteFile(filepath.Join(b.work, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeGzip compresses at the best level with no name or time in the header, as Debian wants.
func writeGzip(path string, raw []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// contents is every file and directory of the package, for one packager.
func (b *build) contents(format string) files.Contents {
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: b.mtime}}
	}
	dir := func(dst string, mode os.FileMode) *files.Content {
		return &files.Content{Destination: dst, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: b.mtime}}
	}
	// Debian 12 still ships units in /lib (its systemd looks in both); RPM distributions in /usr/lib.
	unitDir := "/usr/lib/systemd/system"
	if format == "deb" {
		unitDir = "/lib/systemd/system"
	}
	cs := files.Contents{
		file(filepath.Join(b.work, "fedarms"), "/usr/bin/fedarms", 0o755),
		file(filepath.Join(b.repo, "deploy/systemd/fedarms.service"), unitDir+"/fedarms.service", 0o644),
		file(filepath.Join(b.repo, "deploy/systemd/fedarms.sysusers"), "/usr/lib/sysusers.d/fedarms.conf", 0o644),
		// The service user reads /etc/fedarms (group fedarms, set by postinst); only root reads the
		// credentials, which systemd hands to the service.
		dir("/etc/fedarms", 0o750),
		dir("/etc/fedarms/examples", 0o755),
		dir("/etc/fedarms/credentials", 0o700),
		dir("/var/lib/fedarms", 0o700),
		file(filepath.Join(b.work, "copyright"), "/usr/share/doc/fedarms/copyright", 0o644),
		file(filepath.Join(b.work, "changelog.gz"), "/usr/share/doc/fedarms/changelog.gz", 0o644),
	}
	for _, role := range []string{"central", "ncb", "edge"} {
		c := file(filepath.Join(b.repo, "deploy/config", role+".toml"), "/etc/fedarms/examples/"+role+".toml", 0o644)
		c.Type = files.TypeConfigNoReplace
		cs = append(cs, c)
	}
	if format == "deb" {
		cs = append(cs, file(filepath.Join(b.work, "lintian-overrides"), "/usr/share/lintian/overrides/fedarms", 0o644))
	}
	if _, err := os.Stat(filepath.Join(b.repo, "docs/operations.md")); err == nil {
		cs = append(cs, file(filepath.Join(b.repo, "docs/operations.md"), "/usr/share/doc/fedarms/operations.md", 0o644))
	}
	pages, _ := filepath.Glob(filepath.Join(b.work, "man", "*.1.gz"))
	sort.Strings(pages)
	for _, p := range pages {
		cs = append(cs, file(p, "/usr/share/man/man1/"+filepath.Base(p), 0o644))
	}
	return cs
}

// info is the package's metadata and contents for one packager.
func (b *build) info(format string) *nfpm.Info {
	return nfpm.WithDefaults(&nfpm.Info{
		Name:     "fedarms",
		Arch:     "amd64",
		Platform: "linux",
		Version:  b.version,
		// Releases are plain dotted numbers (with a +revision for builds between releases), not
		// semver with a prerelease that rpm would read differently.
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    maintainer,
		Vendor:        "fedarms",
		Homepage:      "https://github.com/fedarms/fedarms",
		License:       "LicenseRef-fedarms",
		MTime:         b.mtime,
		Description: "federated register of lost, stolen, trafficked and smuggled firearms\n" +
			"fedarms is a federation of daemons holding a replicated register of illicit\n" +
			"firearms at the places where firearms turn up: airports, border posts, customs\n" +
			"and police units. Each node answers searches from its own copy, with or\n" +
			"without a network, and delivers every hit to the General Secretariat and the\n" +
			"recording country's National Central Bureau. This package holds the fedarms\n" +
			"binary, a hardened systemd unit, an example configuration per role and the\n" +
			"operators' runbook.",
		Overridables: nfpm.Overridables{
			Contents: b.contents(format),
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(b.work, "postinst"),
				PreRemove:   filepath.Join(b.work, "prerm"),
				PostRemove:  filepath.Join(b.work, "postrm"),
			},
			RPM: nfpm.RPM{Group: "System Environment/Daemons", Summary: "federated register of lost, stolen, trafficked and smuggled firearms"},
		},
	})
}

// pack writes one package into the output dir under its conventional Debian-style name
// (fedarms_<version>_amd64.deb) or rpm name, and returns its path.
func (b *build) pack(format string) (string, error) {
	pkg, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	info := b.info(format)
	if err := nfpm.Validate(info); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	name := pkg.ConventionalFileName(info)
	if format == "deb" {
		name = fmt.Sprintf("fedarms_%s_amd64.deb", b.version)
	}
	path := filepath.Join(b.out, name)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	info.Target = path
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("%s: %w", format, err)
	}
	return path, f.Close()
}
