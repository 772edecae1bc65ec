package fedplan

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FoundingFile marks the data dir of a central node laid out to found a new federation: its first
// start bootstraps every raft group with the roster's central members. A central node without
// it, on a data dir that holds no raft state, refuses to start: it would vote without its log.
const FoundingFile = "FOUNDING"

// MarkFounding writes FoundingFile into dataDir for the central node name.
func MarkFounding(dataDir, name string, at time.Time) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("mark founding: %w", err)
	}
	body := fmt.Sprintf("%s founds a new federation (laid out %s): its first start bootstraps every raft group with the roster's central members\n",
		name, at.UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dataDir, FoundingFile), []byte(body), 0o600); err != nil {
		return fmt.Errorf("mark founding: %w", err)
	}
	return nil
}
