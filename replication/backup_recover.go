package replication

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fedarms/fedarms/internal/seal"
)

// A federation whose central quorum is lost (two of three central machines gone, or all three)
// has no group that can elect a leader: nothing the survivors hold can be written to again. It is
// rebuilt from one central node's backup by restoring each group as RestoreGroup does and giving
// it the configuration raft.RecoverCluster would write: this node the only voter, as if committed
// at index 1. RecoverCluster itself replays an existing log into an FSM and snapshots it; a
// restore has no log, only the copy, so the snapshot it lays is written with the new
// configuration directly, which is the same end state. The other central members are then
// replaced through the ordinary join path, one at a time.
//
// The snapshot keeps the copy's index and term, so that a surviving holder's log still matches
// the rebuilt leader's at the copy's index: a survivor behind the copy is sent the rest, and one
// that applied entries past it meets the rebuilt history at the index after the copy, where its
// FSM sees a newer term at an index it already applied and halts (fsm.go, "diverged") instead of
// skipping or overwriting what it holds.
//
// The current term is raised by RecoverTermGap. The lost quorum may have held elections after the
// backup, and a survivor refuses a leader whose term is below one it has seen; raft's leader then
// only steps down, so a rebuilt node starting at the copy's term would need as many elections as
// it is behind before a survivor listens. A term only has to grow; the gap outruns any number of
// elections a federation holds.

// RecoverTermGap is how far a recovery raises a group's current term above its copy's.
const RecoverTermGap = 1 << 20

// Recovery names the node a group is rebuilt around: its raft server id and address.
type Recovery struct {
	ID, Address string
}

// apply returns m with the recovery's configuration (this node the only voter, every non-voter of
// m kept so that the surviving holders are called at once) and the current term to set; without
// a recovery, m and its own term.
func (r *Recovery) apply(m BackupMeta) (BackupMeta, uint64) {
	if r == nil {
		return m, m.AppliedTerm
	}
	cf := []BackupServer{{ID: r.ID, Address: r.Address, Suffrage: "voter"}}
	for _, s := range m.Configuration {
		if s.ID != r.ID && s.Suffrage == "nonvoter" {
			cf = append(cf, s)
		}
	}
	m.Configuration, m.ConfigurationIndex = cf, 1
	if m.AppliedIndex == 0 {
		// Nothing applied: the snapshot still has to carry the configuration, at the index of the
		// bootstrap entry every member's log starts with.
		m.AppliedIndex, m.AppliedTerm = 1, 1
	}
	return m, m.AppliedTerm + RecoverTermGap
}

// RecoverGroup is RestoreGroup for a federation rebuilt around r: the group starts with r as its
// only voter and a term above any the lost members reached.
// key is the data key the copy is sealed with (nil: plain).
func RecoverGroup(dir, statePath string, m BackupMeta, key *seal.Key, r Recovery) error {
	if r.ID == "" || r.Address == "" {
		return fmt.Errorf("recover %s: no server id or address", dir)
	}
	return restoreGroup(dir, statePath, m, key, &r)
}

// RecoverControl is RestoreControl for a federation rebuilt around r.
func RecoverControl(dir, statePath string, m BackupMeta, r Recovery) error {
	if r.ID == "" || r.Address == "" {
		return fmt.Errorf("recover %s: no server id or address", dir)
	}
	return restoreControl(dir, statePath, m, &r)
}

// RecoverInbox lays the GS inbox group's directory dir, which must not exist, for a federation
// rebuilt around r: a snapshot of s (the restored hit store's inbox) at index, the inbox index that
// store has applied, with r as the only voter. The inbox's state lives in the node's hit store,
// which the backup holds; without this snapshot the group would start empty at index 1 and the
// store, already past it, would skip every new entry up to its index, and a replacement central
// node would be sent an empty inbox. Only central nodes are members, all of them lost, so the
// snapshot's term need not match anyone's log.
// key seals the group's snapshot and log as the inbox group of an encrypted dir is (nil: plain).
func RecoverInbox(dir string, index uint64, key *seal.Key, r Recovery, s InboxSnapshot) error {
	if r.ID == "" || r.Address == "" {
		return fmt.Errorf("recover %s: no server id or address", dir)
	}
	if err := newDir(dir); err != nil {
		return err
	}
	defer s.Release()
	m, term := r.apply(BackupMeta{AppliedIndex: index, AppliedTerm: 1})
	err := installSnapshot(dir, m, key, term, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if _, err := bw.Write(binary.AppendUvarint(append([]byte(nil), inboxSnapMagic...), m.AppliedIndex)); err != nil {
			return err
		}
		if _, err := s.WriteTo(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		_ = os.RemoveAll(filepath.Clean(dir)) // a half-laid group must not look like one

		return fmt.Errorf("recover inbox: %w", err)
	}
	return nil
}
