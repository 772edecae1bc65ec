// Package durable writes small files so that a crash leaves either the old content or the new,
// never a torn file: the key file, the data dir's format and markers, the restored and converted
// dirs. It imports no other fedarms package.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data (mode 0600): a synced temporary file beside it renamed over
// it, then the directory synced.
func WriteFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes the entries of dir (files created, renamed or removed in it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
