package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// A federation whose central quorum is lost is rebuilt from one central node's backup: the
// restored node becomes the only voter of every group (replication.RecoverGroup), and the other
// central members are then revoked and replaced through the join path. It is refused unless the
// operator says the quorum is truly gone: while two of the old voters still run, the rebuilt node
// and they would be two federations writing under one name. The surviving holders keep what they
// applied after the backup; one that holds more meets the rebuilt history and halts the shard
// (replication's fsm.go), so nothing it holds is dropped without an operator deciding.

// recoveredFile records in a rebuilt data dir what it was rebuilt from.
const recoveredFile = "RECOVERED"

// Recovery is what RestoreOptions.Recover wrote: the backup, this node as the only voter, and
// the index each group starts from.
type Recovery struct {
	// Node and Address are the only voter of every rebuilt group: the backup's node, at its key's
	// raft address.
	Node    string `json:"node"`
	Address string `json:"address"`
	// Backup is when the backup was finished; At when the rebuild was made, and Reason why.
	Backup time.Time `json:"backup"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// Groups gives each group (control, inbox, shard) the index it starts from.
	Groups map[string]uint64 `json:"groups"`
}

// recoveryOf is the recovery for the backup m restored with the node key at keyPath: the
// manifest's node alone, at its key's raft address.
func recoveryOf(m BackupManifest, keyPath string) (replication.Recovery, error) {
	if m.Role != string(transport.RoleCentral) || m.Control == nil {
		return replication.Recovery{}, fmt.Errorf("recover: %s is a %s node's backup; a federation is rebuilt from a central node's", m.Node, m.Role)
	}
	if keyPath == "" {
		return replication.Recovery{}, fmt.Errorf("recover: the backup holds no node key; give the key of %s (--identity): the rebuilt groups name it as their voter", m.Node)
	}
	id, err := transport.LoadIdentity(keyPath)
	if err != nil {
		return replication.Recovery{}, fmt.Errorf("recover: node key: %w", err)
	}
	return replication.Recovery{ID: m.Node, Address: string(transport.ServerAddress(id.ID))}, nil
}

// recoverInbox lays the GS inbox group of a rebuilt central node from the restored hit store in
// dataDir (the inbox's state lives there), and returns the index it starts from.
// key is the dir's data key (nil: plain).
func recoverInbox(dataDir string, key *seal.Key, rec replication.Recovery, now func() time.Time) (uint64, error) {
	db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("recover inbox: %w", err)
	}
	defer db.Close()
	store, err := notify.OpenSealed(db, now, key)
	if err != nil {
		return 0, fmt.Errorf("recover inbox: %w", err)
	}
	index := max(store.InboxApplied(), 1)
	return index, replication.RecoverInbox(inboxDir(dataDir), index, key, rec, store.SnapshotInbox())
}

// recordRecovery writes RECOVERED and an audit entry into the rebuilt data dir, so that the node's
// own log says it was rebuilt, from what and why.
// key is the dir's data key (nil: plain), which seals the audit entry as the node's own are.
func recordRecovery(dataDir string, key *seal.Key, r Recovery) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dataDir, recoveredFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("recover: audit: %w", err)
	}
	defer db.Close()
	lg, err := audit.Open(db, audit.Options{Now: func() time.Time { return r.At }, Key: key})
	if err != nil {
		return fmt.Errorf("recover: audit: %w", err)
	}
	defer lg.Close()
	q, err := json.Marshal(map[string]any{"backup": r.Backup, "voter": r.Node, "reason": r.Reason, "groups": r.Groups})
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		return lg.AppendTx(tx, &audit.Entry{Agency: "operator", Action: "federation.recover", Query: q, Outcome: "ok"})
	})
}
