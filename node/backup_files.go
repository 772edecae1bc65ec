package node

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fedarms/fedarms/internal/durable"
	"github.com/fedarms/fedarms/internal/seal"
)

// ErrDamagedBackup means a backup is incomplete or a file of it does not match its manifest.
var ErrDamagedBackup = errors.New("damaged backup")

// ReceiveBackup writes the tar stream of a backup into dir, which must not exist: under a
// temporary name first, renamed to dir once every file matches the manifest at the stream's end.
// It also writes SHA256SUMS, so the copy can be checked with sha256sum -c as well.
func ReceiveBackup(r io.Reader, dir string) (BackupManifest, error) {
	if _, err := os.Stat(dir); err == nil {
		return BackupManifest{}, fmt.Errorf("%s exists: a backup goes into a new directory", dir)
	}
	tmp := filepath.Clean(dir) + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return BackupManifest{}, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return BackupManifest{}, err
	}
	got := map[string]BackupFile{}
	var manifest []byte
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return BackupManifest{}, fmt.Errorf("%w: the stream ended early (%v); %s holds what arrived", ErrDamagedBackup, err, tmp)
		}
		name, err := backupPath(hdr.Name)
		if err != nil {
			return BackupManifest{}, err
		}
		if hdr.Typeflag != tar.TypeReg {
			return BackupManifest{}, fmt.Errorf("%w: %s is not a regular file", ErrDamagedBackup, name)
		}
		var src io.Reader = tr
		switch name {
		case backupErrorFile:
			msg, _ := io.ReadAll(io.LimitReader(tr, 64<<10))
			return BackupManifest{}, fmt.Errorf("the node could not finish the backup: %s", strings.TrimSpace(string(msg)))
		case ManifestFile:
			if manifest, err = io.ReadAll(io.LimitReader(tr, 16<<20)); err != nil {
				return BackupManifest{}, fmt.Errorf("%w: %s: %v", ErrDamagedBackup, name, err)
			}
			src = bytes.NewReader(manifest)
		}
		f, err := writeBackupFile(filepath.Join(tmp, filepath.FromSlash(name)), src)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return BackupManifest{}, fmt.Errorf("%w: the stream ended inside %s; %s holds what arrived", ErrDamagedBackup, name, tmp)
		}
		if err != nil {
			return BackupManifest{}, fmt.Errorf("%s: %w", name, err)
		}
		f.Path = name
		got[name] = f
	}
	if manifest == nil {
		return BackupManifest{}, fmt.Errorf("%w: the stream has no %s (it was cut); %s holds what arrived", ErrDamagedBackup, ManifestFile, tmp)
	}
	m, err := parseManifest(manifest)
	if err != nil {
		return BackupManifest{}, err
	}
	for _, want := range m.Files {
		if err := sameFile(want, got[want.Path]); err != nil {
			return BackupManifest{}, err
		}
	}
	if err := writeSums(tmp, m); err != nil {
		return BackupManifest{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return BackupManifest{}, err
	}
	return m, durable.SyncDir(filepath.Dir(filepath.Clean(dir)))
}

// writeBackupFile writes r to p (0600, synced) and returns its size and checksum.
func writeBackupFile(p string, r io.Reader) (BackupFile, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return BackupFile{}, err
	}
	out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return BackupFile{}, err
	}
	h := sha256.New()
	k, err := io.Copy(io.MultiWriter(out, h), r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BackupFile{}, err
	}
	return BackupFile{Size: k, SHA256: sum(h)}, nil
}

// VerifyBackup checks a backup directory: its manifest, and every file it names against its size
// and SHA-256. The error names the first file that does not match.
func VerifyBackup(dir string) (BackupManifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return BackupManifest{}, fmt.Errorf("%w: %v", ErrDamagedBackup, err)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return BackupManifest{}, err
	}
	for _, want := range m.Files {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(want.Path)))
		if err != nil {
			return BackupManifest{}, fmt.Errorf("%w: %s: %v", ErrDamagedBackup, want.Path, err)
		}
		h := sha256.New()
		k, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return BackupManifest{}, fmt.Errorf("%w: %s: %v", ErrDamagedBackup, want.Path, err)
		}
		if err := sameFile(want, BackupFile{Path: want.Path, Size: k, SHA256: sum(h)}); err != nil {
			return BackupManifest{}, err
		}
	}
	return m, nil
}

func sameFile(want, got BackupFile) error {
	switch {
	case got.Path == "":
		return fmt.Errorf("%w: %s is missing", ErrDamagedBackup, want.Path)
	case got.Size != want.Size:
		return fmt.Errorf("%w: %s has %d bytes, the manifest says %d", ErrDamagedBackup, want.Path, got.Size, want.Size)
	case got.SHA256 != want.SHA256:
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrDamagedBackup, want.Path, got.SHA256, want.SHA256)
	}
	return nil
}

// parseManifest reads a manifest and checks that this release can restore it and that every
// copy it describes has its file.
func parseManifest(raw []byte) (BackupManifest, error) {
	var m BackupManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %v", ErrDamagedBackup, ManifestFile, err)
	}
	if m.Format < 1 || m.Format > BackupFormat {
		return m, fmt.Errorf("backup format %d (written by fedarms %s); this is fedarms %s, which restores formats up to %d", m.Format, orNone(m.Release), Version, BackupFormat)
	}
	if m.DataFormat > DataFormat {
		return m, fmt.Errorf("the backup is of a data dir in format %d (fedarms %s); this is fedarms %s, which reads formats up to %d", m.DataFormat, orNone(m.Release), Version, DataFormat)
	}
	names := map[string]bool{}
	for _, f := range m.Files {
		p, err := backupPath(f.Path)
		if err != nil || p != f.Path {
			return m, fmt.Errorf("%w: %s names %q", ErrDamagedBackup, ManifestFile, f.Path)
		}
		names[f.Path] = true
	}
	need := []string{"node.db"}
	if m.DataFormat >= sealedDataFormat {
		need = append(need, seal.KeyFileName) // every other file is sealed with it
	}
	if m.Control != nil {
		need = append(need, "control/control.db")
	}
	for _, s := range m.Shards {
		if !validShardName(s.Shard) {
			return m, fmt.Errorf("%w: %s names shard %q", ErrDamagedBackup, ManifestFile, s.Shard)
		}
		need = append(need, "shards/"+s.Shard+"/state.db")
	}
	for _, p := range need {
		if !names[p] {
			return m, fmt.Errorf("%w: %s lists no file %s", ErrDamagedBackup, ManifestFile, p)
		}
	}
	return m, nil
}

// backupPath checks a name from a backup: relative, clean, inside the backup.
func backupPath(name string) (string, error) {
	p := path.Clean(name)
	if p != name || path.IsAbs(p) || p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsRune(p, '\\') {
		return "", fmt.Errorf("%w: file name %q is not inside the backup", ErrDamagedBackup, name)
	}
	return p, nil
}

func validShardName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// writeSums writes SHA256SUMS, in the format of sha256sum, from the manifest.
func writeSums(dir string, m BackupManifest) error {
	files := append([]BackupFile(nil), m.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", f.SHA256, f.Path)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o600)
}
