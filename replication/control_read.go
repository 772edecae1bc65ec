package replication

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ReadControlState reads the control state a node left in dir (the control group's directory)
// without starting the group, so the node can apply it to its roster before its host admits anyone.
// A directory without a state file reads as the empty state.
func ReadControlState(dir string) (ControlState, error) {
	path := controlStatePath(dir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return ControlState{}, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		return ControlState{}, fmt.Errorf("read control state %s: %w", path, err)
	}
	defer db.Close()
	st, err := readControlTx(db)
	if err != nil {
		return ControlState{}, fmt.Errorf("read control state %s: %w", path, err)
	}
	return st, nil
}

func readControlTx(db *bolt.DB) (ControlState, error) {
	var st ControlState
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCtlMembers); b != nil {
			if err := b.ForEach(func(_, v []byte) error {
				var m ControlMember
				if err := json.Unmarshal(v, &m); err != nil {
					return fmt.Errorf("member: %w", err)
				}
				st.Members = append(st.Members, m)
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketCtlRevoked); b != nil {
			if err := b.ForEach(func(_, v []byte) error {
				var r ControlRevoked
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("revoked: %w", err)
				}
				st.Revoked = append(st.Revoked, r)
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketCtlMeta); b != nil {
			st.AppliedIndex = getU64(b, keyApplied)
			st.AppliedTerm = getU64(b, keyTerm)
		}
		return nil
	})
	return st, err
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
