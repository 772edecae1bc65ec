// Package version holds the release this build of fedarms is: what `fedarms version` prints, what a
// node reports in its health and membership, and what the packages are named after. A release build
// sets it with the linker (-ldflags "-X github.com/fedarms/fedarms/internal/version.release=1.2.0");
// a plain `go build` of a checkout reports Base plus the VCS revision Go stamped into the binary
// ("0.1.0+4896248f0c1d", "….dirty" for a tree with changes not committed), and a binary Go
// recorded no revision for (a test binary) reports Base. It imports no fedarms package, so anything
// may import it.
package version

import (
	"runtime/debug"
	"strings"
)

// Base is the release of this source tree when no release string was set at build time.
const Base = "0.1.0"

// release is set at build time with -ldflags "-X github.com/fedarms/fedarms/internal/version.release=V".
var release string

// Release is the release this binary reports: the string set at build time, else Base with the
// VCS revision when Go recorded one. Package versions and members' `version` are this string.
func Release() string {
	if r := strings.TrimSpace(release); r != "" {
		return r
	}
	return withRevision(Base, Current())
}

// withRevision appends b's short revision to base, in a form that sorts after base in dpkg's and
// rpm's version order and that both accept.
func withRevision(base string, b Build) string {
	if b.Revision == "" {
		return base
	}
	s := base + "+" + shortRev(b.Revision)
	if b.Modified {
		s += ".dirty"
	}
	return s
}

func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// Build describes the binary beyond its release: the VCS revision and whether the tree it was
// built from had changes not committed, as Go recorded them (empty when it recorded none).
type Build struct {
	Release   string `json:"release"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
}

// Current reads the build information of the running binary; its Release is the string set at build
// time (empty when none was: Release then derives one).
func Current() Build {
	b := Build{Release: strings.TrimSpace(release)}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the long form `fedarms version --long` prints: the release, then the full revision and
// its time, and the Go release that built it.
func (b Build) String() string {
	s := Release()
	if b.Revision != "" {
		s += " revision " + b.Revision
		if b.Modified {
			s += " (modified)"
		}
		if b.Time != "" {
			s += " of " + b.Time
		}
	}
	if b.GoVersion != "" {
		s += ", built with " + b.GoVersion
	}
	return s
}
