package node

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fedarms/fedarms/transport"
)

// A central node that joins a running federation (to replace a lost one, or to grow the central
// tier) must not bootstrap its raft groups: they exist, and their leaders add it (central.go).
// Founding central nodes bootstrap every group with the roster's central members; a data dir
// marked joined never does.

// joinedFile marks the data dir of a central node that joined a running federation.
const joinedFile = "JOINED"

// MarkJoined records in dataDir that the central node there joins a running federation
// (`fedarms federation join` writes it): it never bootstraps a raft group, since the groups exist
// and their leaders add it. A central node without the mark, on a data dir without raft state,
// bootstraps every group with the roster's central members, as the founding ones do.
func MarkJoined(dataDir, name string, at time.Time) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("mark joined: %w", err)
	}
	path := filepath.Join(dataDir, joinedFile)
	body := fmt.Sprintf("%s joined a running federation at %s: it does not bootstrap raft groups; their leaders add it\n",
		name, at.UTC().Format(time.RFC3339))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return fmt.Errorf("mark joined: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("mark joined: %w", err)
	}
	return nil
}

// hasJoined reports whether dataDir carries the mark of MarkJoined.
func hasJoined(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, joinedFile))
	return err == nil
}

// bootstraps reports whether this node starts raft groups that have no state yet: only the
// founding central members do.
func (f *fed) bootstraps() bool { return f.self.Role == transport.RoleCentral && !f.joined }
