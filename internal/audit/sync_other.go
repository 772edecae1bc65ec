//go:build !linux

package audit

import "os"

// datasync flushes the file; without fdatasync this also flushes its timestamps.
func datasync(f *os.File) error { return f.Sync() }

// preallocate is a no-op where fallocate is not available: the file grows by writes.
func preallocate(*os.File, int64, int64) error { return nil }

// lockFile does not claim the file here: the caller must not open two logs on one journal.
func lockFile(*os.File) error { return nil }
