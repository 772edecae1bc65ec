package replication

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
)

// Restoring a group from a backup hands raft the copy as a snapshot at the copy's applied index,
// with the configuration the backup recorded, and an empty log. Raft then starts where the copy
// stands: it does not bootstrap the group again (a snapshot is existing state), it asks the leader
// for the entries after the copy's index (or is sent a newer snapshot when the leader's log no
// longer has them), and the FSM, whose state file says the same index, applies exactly those. A
// copy of the log itself would be taken at another moment than the state and could hold entries
// the leader later overwrote; the state alone is what was committed. The snapshot is also what this
// node sends a member that is further behind, should it lead the group.
//
// The current term is set to the copy's term, so that a restored node that elects itself (a
// one-node federation) writes entries with terms that never go back.

// keyCurrentTerm is where raft keeps its current term in the stable store (raft's own key).
var keyCurrentTerm = []byte("CurrentTerm")

// ErrBackupMismatch means a backup's copy does not hold what its manifest says.
var ErrBackupMismatch = errors.New("backup copy does not match its manifest")

// RestoreGroup makes a shard group's directory dir, which must not exist yet, from a backup's copy
// of its state file (statePath) described by m. It checks every record against the copy's count and
// digest and m's before anything else is written.
func RestoreGroup(dir, statePath string, m BackupMeta) error {
	return restoreGroup(dir, statePath, m, nil, nil)
}

// RestoreSealedGroup is RestoreGroup for a copy whose records are sealed with key (the data key
// of the dir the backup was taken from, which the restored dir keeps); its snapshot is sealed too.
func RestoreSealedGroup(dir, statePath string, m BackupMeta, key *seal.Key) error {
	return restoreGroup(dir, statePath, m, key, nil)
}

// restoreGroup is RestoreSealedGroup, with the configuration and term of a recovery when rec is
// set (backup_recover.go).
func restoreGroup(dir, statePath string, m BackupMeta, key *seal.Key, rec *Recovery) error {
	if err := newDir(dir); err != nil {
		return err
	}
	dst := filepath.Join(dir, "state.db")
	if err := copyStateFile(statePath, dst); err != nil {
		return err
	}
	s, err := OpenSealedState(dst, key)
	if err != nil {
		return err
	}
	defer s.Close()
	st := s.Stats()
	if st.AppliedIndex != m.AppliedIndex || st.AppliedTerm != m.AppliedTerm || st.Records != m.Records || st.Digest.String() != m.Digest {
		return fmt.Errorf("%w: the state is at index %d term %d with %d records (digest %s), the manifest says index %d term %d with %d records (digest %s)",
			ErrBackupMismatch, st.AppliedIndex, st.AppliedTerm, st.Records, st.Digest, m.AppliedIndex, m.AppliedTerm, m.Records, m.Digest)
	}
	if err := s.verifyRecords(st); err != nil {
		return err
	}
	if m.AppliedIndex == 0 && rec == nil {
		return nil // nothing applied: the group starts as a new one would
	}
	snap, err := s.snapshot()
	if err != nil {
		return err
	}
	defer snap.Release()
	m, term := rec.apply(m)
	return installSnapshot(dir, m, key, term, snap.write)
}

// verifyRecords reads every record once: each must decode under its own key, and together they
// must give the state's count and digest.
func (s *State) verifyRecords(want Stats) error {
	var got Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		return s.records(tx).forEach(func(k, v []byte) error {
			id, err := record.IDOf(v)
			if err != nil || id != string(k) {
				return fmt.Errorf("%w: record under key %q does not decode to that id (%v)", ErrBackupMismatch, k, err)
			}
			got.Digest.add(sha256.Sum256(v), +1)
			got.Records++
			return nil
		})
	})
	if err != nil {
		return err
	}
	if got.Records != want.Records || got.Digest != want.Digest {
		return fmt.Errorf("%w: the records (%d, digest %s) are not what the state's meta says (%d, digest %s)",
			ErrBackupMismatch, got.Records, got.Digest, want.Records, want.Digest)
	}
	return nil
}

// RestoreControl makes the control group's directory dir, which must not exist yet, from a
// backup's copy of its state file (statePath) described by m.
func RestoreControl(dir, statePath string, m BackupMeta) error {
	return restoreControl(dir, statePath, m, nil)
}

// restoreControl is RestoreControl, with the configuration and term of a recovery when rec is set.
func restoreControl(dir, statePath string, m BackupMeta, rec *Recovery) error {
	if err := newDir(dir); err != nil {
		return err
	}
	dst := controlStatePath(dir)
	if err := copyStateFile(statePath, dst); err != nil {
		return err
	}
	store, err := openControlStore(dst)
	if err != nil {
		return err
	}
	st := store.state()
	if cerr := store.close(); cerr != nil {
		return cerr
	}
	if st.AppliedIndex != m.AppliedIndex || st.AppliedTerm != m.AppliedTerm {
		return fmt.Errorf("%w: the control state is at index %d term %d, the manifest says index %d term %d",
			ErrBackupMismatch, st.AppliedIndex, st.AppliedTerm, m.AppliedIndex, m.AppliedTerm)
	}
	if m.AppliedIndex == 0 && rec == nil {
		return nil
	}
	m, term := rec.apply(m)
	return installSnapshot(dir, m, nil, term, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(controlSnapshotFile{Format: controlSnapshotFormat, State: st})
	})
}

// installSnapshot writes a raft snapshot at m's index into dir's snapshot store, with write giving
// its content, and sets the current term in dir's log store to term; key seals both (nil: plain).
func installSnapshot(dir string, m BackupMeta, key *seal.Key, term uint64, write func(io.Writer) error) error {
	var cf raft.Configuration
	for _, s := range m.Configuration {
		suf, err := suffrageOf(s.Suffrage)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBackupMismatch, err)
		}
		cf.Servers = append(cf.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address), Suffrage: suf})
	}
	files, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		return err
	}
	var snaps raft.SnapshotStore = files
	if key != nil {
		snaps = sealedSnapshots{FileSnapshotStore: files, key: key}
	}
	// The transport only encodes the voters for snapshots of the oldest format, which raft still
	// writes beside the configuration; any transport encodes them the same way (the address).
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	sink, err := snaps.Create(1, m.AppliedIndex, m.AppliedTerm, cf, m.ConfigurationIndex, trans)
	if err != nil {
		return err
	}
	if err := write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	logs, err := OpenLogStore(filepath.Join(dir, "raft.db"), LogStoreOptions{Key: key})
	if err != nil {
		return err
	}
	if err := logs.SetUint64(keyCurrentTerm, term); err != nil {
		logs.Close()
		return err
	}
	return logs.Close()
}

func newDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists: a restore makes a new directory", dir)
	}
	return os.MkdirAll(dir, 0o700)
}

// copyStateFile copies a backup's state file and syncs the copy.
func copyStateFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// StateDiff is how two copies of a shard differ, record by record (ids in order, at most the
// limit given to DiffStateFiles of each kind; the counts are complete).
type StateDiff struct {
	Added        []string `json:"added"`   // in the newer copy only
	Changed      []string `json:"changed"` // in both, with other content
	Removed      []string `json:"removed"` // in the older copy only
	AddedCount   int      `json:"added_count"`
	ChangedCount int      `json:"changed_count"`
	RemovedCount int      `json:"removed_count"`
}

// DiffStateFiles compares two state files that nothing has open (copies in backups, a stopped
// node's), walking both in id order once.
func DiffStateFiles(older, newer string, limit int) (StateDiff, error) {
	return DiffSealedStateFiles(older, newer, nil, nil, limit)
}

// DiffSealedStateFiles is DiffStateFiles for copies whose records are sealed, each with its own
// data key (nil: plain): records are compared by their plain content.
func DiffSealedStateFiles(older, newer string, olderKey, newerKey *seal.Key, limit int) (StateDiff, error) {
	var d StateDiff
	a, err := bolt.Open(older, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return d, fmt.Errorf("open %s: %w", older, err)
	}
	defer a.Close()
	b, err := bolt.Open(newer, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return d, fmt.Errorf("open %s: %w", newer, err)
	}
	defer b.Close()
	note := func(ids *[]string, count *int, id []byte) {
		*count++
		if len(*ids) < limit {
			*ids = append(*ids, string(id))
		}
	}
	err = a.View(func(ta *bolt.Tx) error {
		return b.View(func(tb *bolt.Tx) error {
			ba, bb := ta.Bucket(bucketRecords), tb.Bucket(bucketRecords)
			if ba == nil || bb == nil {
				return fmt.Errorf("%w: a state file without records", ErrBackupMismatch)
			}
			ca, cb := ba.Cursor(), bb.Cursor()
			ka, va := ca.First()
			kb, vb := cb.First()
			for ka != nil || kb != nil {
				switch c := compareKeys(ka, kb); {
				case c < 0:
					note(&d.Removed, &d.RemovedCount, ka)
					ka, va = ca.Next()
				case c > 0:
					note(&d.Added, &d.AddedCount, kb)
					kb, vb = cb.Next()
				default:
					pa, err := records{b: ba, key: olderKey}.open(ka, va)
					if err != nil {
						return err
					}
					pb, err := records{b: bb, key: newerKey}.open(kb, vb)
					if err != nil {
						return err
					}
					if !bytes.Equal(pa, pb) {
						note(&d.Changed, &d.ChangedCount, ka)
					}
					ka, va = ca.Next()
					kb, vb = cb.Next()
				}
			}
			return nil
		})
	})
	return d, err
}

// compareKeys orders ids, a nil key (a cursor at its end) after every other.
func compareKeys(a, b []byte) int {
	switch {
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return bytes.Compare(a, b)
}
