package node

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/durable"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// RestoreOptions are what a restore needs besides the backup and the new data dir.
type RestoreOptions struct {
	// Identity is a node key to put in the data dir, for a backup taken without one (empty: the
	// backup's own, if it has one).
	Identity string
	// Now is the time written into the data dir's format file.
	Now func() time.Time
	// Recover rebuilds a federation whose central quorum is lost around this node: every group
	// starts with it as the only voter (backup_recover.go). Only for a central node's backup, and
	// only once the operator knows the old quorum is gone; Reason is recorded with it.
	Recover bool
	Reason  string
	// Storage names the passphrase or credential that opens the data key of an encrypted backup
	// (one sealed on its node); the restored dir keeps that key.
	Storage config.Storage
}

// Restored says what a restore made.
type Restored struct {
	Manifest BackupManifest
	// Audit is the check of the restored audit chain.
	Audit audit.Report
	// Identity says the data dir has a node key (from the backup or RestoreOptions.Identity).
	Identity bool
	// Recovery is what a restore with RestoreOptions.Recover rebuilt; nil otherwise.
	Recovery *Recovery
}

// RestoreBackup makes a data dir at dataDir, which must not exist, from the backup in from: it
// checks every file against the manifest first (a damaged backup is refused, naming the file),
// then builds the dir under a temporary name and renames it when complete. Each shard and the
// control group start from their copy as a raft snapshot at the recorded index (see
// replication.RestoreGroup), so a restored member catches up from the others.
func RestoreBackup(from, dataDir string, opts RestoreOptions) (Restored, error) {
	if opts.Now == nil {
		return Restored{}, fmt.Errorf("restore: no clock")
	}
	if _, err := os.Stat(dataDir); err == nil {
		return Restored{}, fmt.Errorf("%s exists: a restore makes a new data dir", dataDir)
	}
	m, err := VerifyBackup(from)
	if err != nil {
		return Restored{}, err
	}
	tmp := filepath.Clean(dataDir) + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return Restored{}, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return Restored{}, err
	}
	res := Restored{Manifest: m}
	src := func(p string) string { return filepath.Join(from, filepath.FromSlash(p)) }
	if err := writeDataFormat(tmp, dataFormat{Format: m.DataFormat, Release: m.Release, Since: opts.Now().UTC()}); err != nil {
		return res, err
	}
	var dataKey *seal.Key
	if m.DataFormat >= sealedDataFormat {
		if err := copyFile(src(seal.KeyFileName), filepath.Join(tmp, seal.KeyFileName)); err != nil {
			return res, fmt.Errorf("data key: %w", err)
		}
		secret, err := seal.ReadSecret(opts.Storage.PassphraseFile, opts.Storage.Credential)
		if err != nil {
			return res, err
		}
		if dataKey, _, err = seal.LoadKey(tmp, secret); err != nil {
			return res, fmt.Errorf("the backup is encrypted with its node's data key: %w", err)
		}
	}
	if err := copyFile(src("node.db"), filepath.Join(tmp, "node.db")); err != nil {
		return res, fmt.Errorf("node.db: %w", err)
	}
	if res.Audit, err = verifyRestoredAudit(filepath.Join(tmp, "node.db"), dataKey); err != nil {
		return res, err
	}
	key := opts.Identity
	if key == "" && m.Identity {
		key = src(transport.IdentityFile)
	}
	var rec replication.Recovery
	if opts.Recover {
		if rec, err = recoveryOf(m, key); err != nil {
			return res, err
		}
		res.Recovery = &Recovery{Node: rec.ID, Address: rec.Address, Backup: m.Finished, At: opts.Now().UTC(), Reason: opts.Reason, Groups: map[string]uint64{}}
	}
	if m.Control != nil {
		dir, path := filepath.Join(tmp, "control"), src("control/control.db")
		if opts.Recover {
			err = replication.RecoverControl(dir, path, *m.Control, rec)
			res.Recovery.Groups["control"] = max(m.Control.AppliedIndex, 1)
		} else {
			err = replication.RestoreControl(dir, path, *m.Control)
		}
		if err != nil {
			return res, fmt.Errorf("control: %w", err)
		}
	}
	for _, s := range m.Shards {
		dir, path := filepath.Join(tmp, "shards", s.Shard), src("shards/"+s.Shard+"/state.db")
		if opts.Recover {
			err = replication.RecoverGroup(dir, path, s.BackupMeta, dataKey, rec)
			res.Recovery.Groups[s.Shard] = max(s.AppliedIndex, 1)
		} else {
			err = replication.RestoreSealedGroup(dir, path, s.BackupMeta, dataKey)
		}
		if err != nil {
			return res, fmt.Errorf("shard %s: %w", s.Shard, err)
		}
	}
	if opts.Recover {
		index, err := recoverInbox(tmp, dataKey, rec, opts.Now)
		if err != nil {
			return res, err
		}
		res.Recovery.Groups["inbox"] = index
	}
	if key != "" {
		if err := copyFile(key, filepath.Join(tmp, transport.IdentityFile)); err != nil {
			return res, fmt.Errorf("node key: %w", err)
		}
		if err := os.Chmod(filepath.Join(tmp, transport.IdentityFile), 0o600); err != nil {
			return res, err
		}
		res.Identity = true
	}
	if m.Role == string(transport.RoleCentral) {
		// A restored central node never bootstraps a group: the groups exist (in the federation it
		// rejoins, or in the snapshots a recovery laid), and one it lacks (the GS inbox, which a
		// backup holds in node.db only) is sent by their leader.
		if err := MarkJoined(tmp, m.Node, opts.Now()); err != nil {
			return res, err
		}
	}
	if res.Recovery != nil {
		if err := recordRecovery(tmp, dataKey, *res.Recovery); err != nil {
			return res, err
		}
	}
	if _, err := os.Stat(src("sample.loaded")); err == nil {
		if err := copyFile(src("sample.loaded"), filepath.Join(tmp, "sample.loaded")); err != nil {
			return res, err
		}
	}
	if err := durable.SyncDir(tmp); err != nil {
		return res, err
	}
	if err := os.Rename(tmp, dataDir); err != nil {
		return res, err
	}
	return res, durable.SyncDir(filepath.Dir(filepath.Clean(dataDir)))
}

// verifyRestoredAudit checks the audit chain of a restored node.db (the backup folded its journal
// in, so the file holds the whole log).
func verifyRestoredAudit(path string, key *seal.Key) (audit.Report, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		return audit.Report{}, fmt.Errorf("node.db: %w", err)
	}
	defer db.Close()
	return audit.VerifySealedWithJournal(db, "", key, nil)
}
