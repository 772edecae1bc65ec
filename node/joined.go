package node

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node/fedplan"
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

// A central node restarted under its old identity on an empty data dir (its disk replaced, its
// key kept elsewhere) is still a voter in every group the others run. Bootstrapping would give it
// a log of one entry, and it would grant its vote to any candidate, including one that lacks
// entries a majority committed: a leader elected so overwrites them. So only a founding start
// bootstraps: a data dir marked by the layout (fedplan.FoundingFile), on which no raft group has
// run yet. Any other central node with no raft state refuses to start and says how to come back.

// checkVoteWithLog refuses to start a central node whose data dir holds no control group state
// unless it founds the federation or joined it (a joined node never bootstraps). Once the control
// group has run, the founding mark is spent and removed.
func checkVoteWithLog(cfg *config.Config, self transport.Entry, log *slog.Logger) error {
	if self.Role != transport.RoleCentral || hasJoined(cfg.DataDir) {
		return nil
	}
	founding := filepath.Join(cfg.DataDir, fedplan.FoundingFile)
	_, err := os.Stat(founding)
	marked := err == nil
	if hasRaftRun(filepath.Join(cfg.DataDir, "control")) { // the control group's dir (controlDir)
		if marked {
			if err := os.Remove(founding); err != nil {
				log.Warn("removing the spent founding mark", "path", founding, "error", err)
			}
		}
		return nil
	}
	if marked {
		return nil
	}
	return fmt.Errorf("central node %s has no raft state in %s and was not laid out to found a new federation: "+
		"started like this it would vote without its log and could elect a leader that lacks committed entries. "+
		"If the federation runs, bring this machine back as a new member (fedarms federation join, or scripts/localfed replace) "+
		"or from this node's backup (fedarms restore --from BACKUP --data %s); "+
		"if every central node was lost, rebuild from a backup (fedarms restore --recover --quorum-lost). "+
		"Only if this is the first start of a new federation laid out by hand, create %s",
		self.Name, cfg.DataDir, cfg.DataDir, founding)
}

// hasRaftRun reports whether a raft group has run in dir: its log store or a snapshot exists.
func hasRaftRun(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err == nil {
		return true
	}
	snaps, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	return err == nil && len(snaps) > 0
}
