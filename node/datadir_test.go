package node

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
)

// dirDigest hashes every file's name and content under dir.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, path)
		h.Write([]byte(rel + "\x00"))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func openClose(t *testing.T, dir string) error {
	t.Helper()
	c := config.Default()
	c.DataDir = dir
	c.HTTPAddr = "127.0.0.1:0"
	n, err := Open(c, Options{})
	if err != nil {
		return err
	}
	return n.Close()
}

func TestDataDirFormatStampedAndOldDirsRead(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, dir)
	f, err := readDataFormat(dir)
	if err != nil || f.Format != DataFormat || f.Release != Version {
		t.Fatalf("format %+v %v", f, err)
	}
	tn.srv.Close()
	tn.Close()
	// An encrypted dir that lost its FORMAT.json is still read as one (it has a data key).
	os.Remove(filepath.Join(dir, formatFile))
	if err := openClose(t, dir); err != nil {
		t.Fatal(err)
	}
	if f, err := readDataFormat(dir); err != nil || f.Format != sealedDataFormat {
		t.Fatalf("encrypted dir without FORMAT.json stamped %+v %v", f, err)
	}

	// Earlier releases wrote plain dirs (format 1, here storage.plain).
	dir = t.TempDir()
	tn = startNode(t, dir, func(c *config.Config) { c.Storage.Plain = true })
	tn.importLines(t, "fr", jsonLines(frRecord("FR-1", "FMT0001")))
	tn.srv.Close()
	tn.Close()
	// A dir written before formats were numbered is format 1: it opens, and is stamped.
	os.Remove(filepath.Join(dir, formatFile))
	tn2 := startNode(t, dir)
	if _, ok := tn2.getRecord("FR-1"); !ok {
		t.Fatal("record lost reopening an unnumbered dir")
	}
	if f, err := readDataFormat(dir); err != nil || f.Format != 1 {
		t.Fatalf("unnumbered dir stamped %+v %v", f, err)
	}
}

func TestDataDirOfNewerReleaseRefusedUnchanged(t *testing.T) {
	dir := t.TempDir()
	if err := openClose(t, dir); err != nil {
		t.Fatal(err)
	}
	if err := writeDataFormat(dir, dataFormat{Format: DataFormat + 1, Release: "9.1.0"}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "LOCK"))
	before := dirDigest(t, dir)
	err := openClose(t, dir)
	if !errors.Is(err, ErrNewerDataFormat) || !strings.Contains(err.Error(), "9.1.0") || !strings.Contains(err.Error(), Version) {
		t.Fatalf("open of a newer dir: %v", err)
	}
	os.Remove(filepath.Join(dir, "LOCK")) // the lock file is the one thing a start may create
	if after := dirDigest(t, dir); after != before {
		t.Fatal("a refused start changed the data dir")
	}
}

func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	startNode(t, dir)
	if err := openClose(t, dir); err == nil || !strings.Contains(err.Error(), "in use by another fedarms process") {
		t.Fatalf("second open of a dir in use: %v", err)
	}
}

// TestDataDirMigrationSurvivesACrashAtEveryStep runs a migration (a test one: this release has none
// yet) that is interrupted at each of its points, then again to the end: the dir ends migrated once,
// and the copy of the old dir is kept and named.
func TestDataDirMigrationSurvivesACrashAtEveryStep(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	errCrash := errors.New("killed")
	for crashAt := 0; crashAt <= 3; crashAt++ {
		root := t.TempDir()
		dir := filepath.Join(root, "data")
		os.MkdirAll(filepath.Join(dir, "shards", "europe"), 0o700)
		os.WriteFile(filepath.Join(dir, "node.db"), []byte("v1 node"), 0o600)
		os.WriteFile(filepath.Join(dir, "shards", "europe", "state.db"), []byte("v1 state"), 0o600)
		old := dirDigest(t, dir)
		runs := 0
		step := func(crash bool) []migration {
			return []migration{{From: 1, Run: func(d string) error {
				runs++
				// Format 2 appends to one file and moves another: done twice, or half done and
				// not undone, it shows.
				b, _ := os.ReadFile(filepath.Join(d, "node.db"))
				os.WriteFile(filepath.Join(d, "node.db"), append(b, " +v2"...), 0o600)
				if crash && crashAt == 1 {
					return errCrash
				}
				if err := os.Rename(filepath.Join(d, "shards", "europe", "state.db"), filepath.Join(d, "shards", "europe", "state-v2.db")); err != nil {
					return err
				}
				if crash && crashAt == 2 {
					return errCrash
				}
				return nil
			}}}
		}
		switch crashAt {
		case 0: // an earlier start was killed while copying: a partial copy is left, and ignored
			os.MkdirAll(filepath.Join(root, "data.format-1-20260101T000000.000Z.partial"), 0o700)
			os.WriteFile(filepath.Join(root, "data.format-1-20260101T000000.000Z.partial", "node.db"), []byte("torn"), 0o600)
		case 1, 2:
			if err := prepareDataDirWith(dir, log, time.Now, 2, step(true)); !errors.Is(err, errCrash) {
				t.Fatalf("crash %d: %v", crashAt, err)
			}
		case 3: // killed after FORMAT.json was written, before MIGRATING was removed
			if err := prepareDataDirWith(dir, log, time.Now, 2, step(false)); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, migratingFile), []byte(keptCopy(t, root)+"\n"), 0o600)
		}
		if err := prepareDataDirWith(dir, log, time.Now, 2, step(false)); err != nil {
			t.Fatalf("crash %d, restart: %v", crashAt, err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "node.db"))
		if string(b) != "v1 node +v2" {
			t.Fatalf("crash %d: node.db %q after the migration, want it migrated once", crashAt, b)
		}
		if _, err := os.Stat(filepath.Join(dir, "shards", "europe", "state-v2.db")); err != nil {
			t.Fatalf("crash %d: %v", crashAt, err)
		}
		if f, _ := readDataFormat(dir); f.Format != 2 {
			t.Fatalf("crash %d: format %+v", crashAt, f)
		}
		if _, err := os.Stat(filepath.Join(dir, migratingFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("crash %d: MIGRATING left behind", crashAt)
		}
		if got := dirDigest(t, keptCopy(t, root)); got != old {
			t.Fatalf("crash %d: the kept copy is not the old dir", crashAt)
		}
		if runs == 0 {
			t.Fatal("the migration never ran")
		}
	}
}

// keptCopy is the one complete copy a migration kept beside root/data.
func keptCopy(t *testing.T, root string) string {
	t.Helper()
	all, _ := filepath.Glob(filepath.Join(root, "data.format-1-*"))
	var complete []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".partial") {
			complete = append(complete, p)
		}
	}
	if len(complete) != 1 {
		t.Fatalf("copies kept: %v", all)
	}
	return complete[0]
}
