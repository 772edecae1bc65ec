//go:build !unix

package node

import "os"

// lockDataDir is a no-op where flock is missing; node.db's own lock still keeps a second process
// out, after the data dir's format was checked.
func lockDataDir(string) (*os.File, error) { return nil, nil }
