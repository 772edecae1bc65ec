package node

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// A federation rebuilt from one node's backup keeps, for each shard, the newest of the backup's
// copy and the survivors' copies: raft brings every member to the newest log that a quorum
// accepts, and a survivor ahead of the backup feeds the restored node. What was written after the
// newest of these copies and is held by none of them is lost, and nothing left can say how much:
// the report names the shards where that can have happened and never guesses an extent.

// Survivor is what one surviving member reports of its shards (GET /v1/shards), or what a backup
// of it holds (then BackupDir is that backup, whose records can be compared with the lost node's).
type Survivor struct {
	Name      string             `json:"name"`
	Shards    []wire.ShardStatus `json:"shards"`
	BackupDir string             `json:"backup_dir,omitempty"`
}

// SurvivorFromBackup is the survivor a verified backup of it describes.
func SurvivorFromBackup(dir string, m BackupManifest) Survivor {
	sv := Survivor{Name: m.Node, BackupDir: dir}
	for _, s := range m.Shards {
		sv.Shards = append(sv.Shards, wire.ShardStatus{Shard: s.Shard, AppliedIndex: s.AppliedIndex, Records: s.Records, Digest: s.Digest})
	}
	return sv
}

// ShardLoss compares a shard's copy in a backup with the survivors' copies.
type ShardLoss struct {
	Shard         string `json:"shard"`
	BackupIndex   uint64 `json:"backup_index"`
	BackupRecords uint64 `json:"backup_records"`
	BackupDigest  string `json:"backup_digest"`
	// Newest is the survivor with the highest applied index (empty when none holds the shard).
	Newest       string `json:"newest,omitempty"`
	NewestIndex  uint64 `json:"newest_index,omitempty"`
	NewestDigest string `json:"newest_digest,omitempty"`
	// Status: same (a survivor holds exactly the backup's copy), newer_elsewhere (a survivor is
	// ahead: the entries after the backup's index are kept there), backup_newer (every survivor is
	// behind the backup), backup_only (no survivor holds the shard), diverged (a survivor at the
	// backup's index holds other records: never in a healthy federation).
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Changes are the records that differ between the backup's copy and the newest survivor's,
	// when that survivor is known through a backup of it (ChangesFrom): the records a rebuild
	// takes from it (newer_elsewhere), or gives it (backup_newer), by id.
	Changes     *replication.StateDiff `json:"changes,omitempty"`
	ChangesFrom string                 `json:"changes_from,omitempty"`
}

// CompareBackup reports, shard by shard, what a rebuild from m and the survivors keeps and where
// writes can have been lost.
func CompareBackup(m BackupManifest, survivors []Survivor) []ShardLoss {
	out := make([]ShardLoss, 0, len(m.Shards))
	for _, s := range m.Shards {
		l := ShardLoss{Shard: s.Shard, BackupIndex: s.AppliedIndex, BackupRecords: s.Records, BackupDigest: s.Digest}
		var atIndex []string // survivors at the backup's index with another digest
		found := false
		for _, sv := range survivors {
			for _, st := range sv.Shards {
				if st.Shard != s.Shard {
					continue
				}
				if !found || st.AppliedIndex > l.NewestIndex {
					l.Newest, l.NewestIndex, l.NewestDigest = sv.Name, st.AppliedIndex, st.Digest
				}
				found = true
				if st.AppliedIndex == s.AppliedIndex && st.Digest != s.Digest {
					atIndex = append(atIndex, sv.Name)
				}
			}
		}
		switch {
		case len(atIndex) > 0:
			sort.Strings(atIndex)
			l.Status = "diverged"
			l.Detail = fmt.Sprintf("%v hold index %d with another digest than the backup's: these copies disagree on the same log; do not rebuild from both", atIndex, s.AppliedIndex)
		case !found:
			l.Status = "backup_only"
			l.Detail = fmt.Sprintf("no survivor holds this shard: the backup (index %d, %d records) is all that is left; anything written after it is lost and its extent cannot be known", s.AppliedIndex, s.Records)
		case l.NewestIndex > s.AppliedIndex:
			l.Status = "newer_elsewhere"
			l.Detail = fmt.Sprintf("%s holds index %d, %d entries past the backup: the restored node takes them from it; anything written after index %d and held by no survivor is lost, its extent unknown", l.Newest, l.NewestIndex, l.NewestIndex-s.AppliedIndex, l.NewestIndex)
		case l.NewestIndex == s.AppliedIndex:
			l.Status = "same"
			l.Detail = fmt.Sprintf("%s holds the backup's copy (index %d); anything written after it and held by no survivor is lost, its extent unknown", l.Newest, s.AppliedIndex)
		default:
			l.Status = "backup_newer"
			l.Detail = fmt.Sprintf("the backup (index %d) is ahead of every survivor (newest %s at %d): survivors catch up from the restored node; anything written after index %d is lost, its extent unknown", s.AppliedIndex, l.Newest, l.NewestIndex, s.AppliedIndex)
		}
		out = append(out, l)
	}
	return out
}

// loadedKey is a backup's data key: nil for a plain backup; err when it cannot be opened here.
type loadedKey struct {
	key *seal.Key
	err error
}

// backupKey opens the data key a backup carries (datakey.json), if it is not sealed.
func backupKey(dir string) loadedKey {
	if _, err := os.Stat(filepath.Join(dir, seal.KeyFileName)); err != nil {
		return loadedKey{}
	}
	k, _, err := seal.LoadKey(dir, nil)
	return loadedKey{key: k, err: err}
}

// DescribeChanges fills in, for each shard whose newest survivor is known through a backup and
// whose copy differs from the backup's, which records differ (at most limit ids of each kind).
func DescribeChanges(backupDir string, losses []ShardLoss, survivors []Survivor, limit int) error {
	dirs := map[string]string{}
	for _, sv := range survivors {
		if sv.BackupDir != "" {
			dirs[sv.Name] = sv.BackupDir
		}
	}
	for i := range losses {
		l := &losses[i]
		dir, ok := dirs[l.Newest]
		if !ok || l.Status == "same" || l.Status == "backup_only" {
			continue
		}
		older, newer := filepath.Join(backupDir, "shards", l.Shard, "state.db"), filepath.Join(dir, "shards", l.Shard, "state.db")
		if l.Status == "backup_newer" {
			older, newer = newer, older
		}
		olderKey, newerKey := backupKey(backupDir), backupKey(dir)
		if l.Status == "backup_newer" {
			olderKey, newerKey = newerKey, olderKey
		}
		if olderKey.err != nil || newerKey.err != nil {
			continue // sealed by a secret this report does not have: counts only
		}
		d, err := replication.DiffSealedStateFiles(older, newer, olderKey.key, newerKey.key, limit)
		if err != nil {
			return fmt.Errorf("shard %s: %w", l.Shard, err)
		}
		l.Changes, l.ChangesFrom = &d, l.Newest
	}
	return nil
}
