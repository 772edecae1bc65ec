package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/durable"
	"github.com/fedarms/fedarms/internal/seal"
)

// The data dir's format. A release knows the formats up to DataFormat: it refuses to start on a
// data dir written in a newer one (naming both, changing nothing), and migrates an older one in
// place after keeping a copy beside it. DATA/FORMAT.json says which format the dir is in; a dir
// without it was written before formats were numbered, in format 1.
//
// A migration is crash-safe by this protocol: the copy is made under a temporary name and renamed
// when complete; then DATA/MIGRATING (naming the copy) is written; then the migration runs; then
// FORMAT.json is replaced atomically; then MIGRATING is removed. A start that finds MIGRATING
// puts the copy's contents back first, so the dir is either the old layout (and is migrated
// again) or the new one.

// DataFormat is the newest data dir format this release reads and writes: 2, encrypted at rest
// (atrest.go). Format 1, plain, is still read as it is and never migrated in place: an older
// release that knows FORMAT.json refuses a format-2 dir, saying which release wrote it.
const DataFormat = sealedDataFormat

// The data dir formats.
const (
	plainDataFormat  = 1
	sealedDataFormat = 2
)

const (
	formatFile    = "FORMAT.json"
	migratingFile = "MIGRATING"
	lockFile      = "LOCK"
)

// dataFormat is the content of FORMAT.json.
type dataFormat struct {
	Format  int       `json:"format"`
	Release string    `json:"release"` // the release that wrote this format
	Since   time.Time `json:"since"`
}

// migration turns a data dir of format From into From+1, in place. It may assume nothing else has
// the dir open, and must leave it usable by the next migration.
type migration struct {
	From int
	Run  func(dir string) error
}

// migrations lists every step from format 1 up to DataFormat, in order.
var migrations []migration

// ErrNewerDataFormat is returned by Open for a data dir written by a newer release.
var ErrNewerDataFormat = errors.New("data dir written by a newer release")

// prepareDataDir checks the data dir's format before anything in it is opened, and returns it: a
// new dir is created in newFormat, a plain one (format 1) stays plain, a newer one is refused.
func prepareDataDir(dir string, log *slog.Logger, now func() time.Time, newFormat int) (int, error) {
	_, fmtErr := os.Stat(filepath.Join(dir, formatFile))
	_, dbErr := os.Stat(filepath.Join(dir, "node.db"))
	_, keyErr := os.Stat(filepath.Join(dir, seal.KeyFileName))
	switch {
	case errors.Is(fmtErr, fs.ErrNotExist) && keyErr == nil:
		// FORMAT.json lost from an encrypted dir (only format 2 has a data key): say so again.
		return sealedDataFormat, writeDataFormat(dir, dataFormat{Format: sealedDataFormat, Release: Version, Since: now().UTC()})
	case errors.Is(fmtErr, fs.ErrNotExist) && errors.Is(dbErr, fs.ErrNotExist):
		return newFormat, writeDataFormat(dir, dataFormat{Format: newFormat, Release: Version, Since: now().UTC()})
	}
	f, err := readDataFormat(dir)
	if err != nil {
		return 0, err
	}
	if f.Format == plainDataFormat {
		return plainDataFormat, prepareDataDirWith(dir, log, now, plainDataFormat, nil)
	}
	return DataFormat, prepareDataDirWith(dir, log, now, DataFormat, migrations)
}

func prepareDataDirWith(dir string, log *slog.Logger, now func() time.Time, current int, steps []migration) error {
	// After an interrupted migration the dir is its copy again: that copy stays the one kept.
	kept, err := resumeInterruptedMigration(dir, log)
	if err != nil {
		return err
	}
	f, err := readDataFormat(dir)
	if err != nil {
		return err
	}
	if f.Format > current {
		return fmt.Errorf("%w: %s is in data format %d, written by fedarms %s; this is fedarms %s, which reads formats up to %d. Run fedarms %s or newer on it (nothing in it was changed)",
			ErrNewerDataFormat, dir, f.Format, orNone(f.Release), Version, current, orNone(f.Release))
	}
	for f.Format < current {
		step, ok := findMigration(steps, f.Format)
		if !ok {
			return fmt.Errorf("data dir %s is in format %d and this release has no migration from it", dir, f.Format)
		}
		// A new name each time: an older copy may hold other data, and is never overwritten.
		copyDir := kept
		kept = ""
		if copyDir == "" {
			copyDir = fmt.Sprintf("%s.format-%d-%s", filepath.Clean(dir), f.Format, now().UTC().Format("20060102T150405.000Z"))
			if err := keepCopy(dir, copyDir); err != nil {
				return fmt.Errorf("copy %s before migrating it: %w", dir, err)
			}
		}
		log.Warn("migrating the data dir to a newer format; a copy of the old one is kept",
			"dir", dir, "from", f.Format, "to", f.Format+1, "copy", copyDir)
		if err := durable.WriteFile(filepath.Join(dir, migratingFile), []byte(copyDir+"\n")); err != nil {
			return err
		}
		if err := step.Run(dir); err != nil {
			return fmt.Errorf("migrate %s from format %d: %w (the old data is in %s)", dir, f.Format, err, copyDir)
		}
		f = dataFormat{Format: f.Format + 1, Release: Version, Since: now().UTC()}
		if err := writeDataFormat(dir, f); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(dir, migratingFile)); err != nil {
			return fmt.Errorf("finish migration of %s: %w", dir, err)
		}
		if err := durable.SyncDir(dir); err != nil {
			return err
		}
		log.Warn("data dir migrated", "dir", dir, "format", f.Format, "copy", copyDir)
	}
	if _, err := os.Stat(filepath.Join(dir, formatFile)); errors.Is(err, fs.ErrNotExist) {
		// A new dir, or one written before formats were numbered (format 1): say so from now on.
		return writeDataFormat(dir, dataFormat{Format: f.Format, Release: Version, Since: now().UTC()})
	}
	return nil
}

func findMigration(steps []migration, from int) (migration, bool) {
	for _, m := range steps {
		if m.From == from {
			return m, true
		}
	}
	return migration{}, false
}

// readDataFormat reads FORMAT.json; a dir without one is in format 1.
func readDataFormat(dir string) (dataFormat, error) {
	b, err := os.ReadFile(filepath.Join(dir, formatFile))
	if errors.Is(err, fs.ErrNotExist) {
		return dataFormat{Format: 1}, nil
	}
	if err != nil {
		return dataFormat{}, fmt.Errorf("read the data dir's format: %w", err)
	}
	var f dataFormat
	if err := json.Unmarshal(b, &f); err != nil || f.Format < 1 {
		return dataFormat{}, fmt.Errorf("%s is unreadable (%q): it says which format the data dir is in; restore it from a backup of this dir", filepath.Join(dir, formatFile), strings.TrimSpace(string(b)))
	}
	return f, nil
}

func writeDataFormat(dir string, f dataFormat) error {
	b, _ := json.MarshalIndent(f, "", "  ")
	return durable.WriteFile(filepath.Join(dir, formatFile), append(b, '\n'))
}

// resumeInterruptedMigration puts back the copy named in MIGRATING, if a migration was
// interrupted: what the dir holds then is half old, half new.
func resumeInterruptedMigration(dir string, log *slog.Logger) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, migratingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	copyDir := strings.TrimSpace(string(b))
	if _, err := os.Stat(copyDir); err != nil {
		return "", fmt.Errorf("a migration of %s was interrupted and its copy %s is gone (%v): restore the dir from a backup", dir, copyDir, err)
	}
	log.Warn("a data dir migration was interrupted: putting the old data back before migrating again", "dir", dir, "copy", copyDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == migratingFile || e.Name() == lockFile {
			continue // the lock stays held on the file this process opened
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return "", err
		}
	}
	if err := copyTree(copyDir, dir); err != nil {
		return "", fmt.Errorf("put back %s: %w", copyDir, err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return "", err
	}
	return copyDir, os.Remove(filepath.Join(dir, migratingFile))
}

// keepCopy copies dir to copyDir, complete or not at all (a temporary name renamed at the end).
func keepCopy(dir, copyDir string) error {
	tmp := copyDir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := copyTree(dir, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, copyDir); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(copyDir))
}

// copyTree copies the files under src into dst (created 0700), syncing each file.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() || rel == migratingFile || rel == lockFile {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
