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
		var err error
		if st.Members, err = decodeAll[ControlMember](tx.Bucket(bucketCtlMembers), "member"); err != nil {
			return err
		}
		if st.Revoked, err = decodeAll[ControlRevoked](tx.Bucket(bucketCtlRevoked), "revoked"); err != nil {
			return err
		}
		if b := tx.Bucket(bucketCtlMeta); b != nil {
			st.AppliedIndex = getU64(b, keyApplied)
			st.AppliedTerm = getU64(b, keyTerm)
		}
		st.Upgrade, err = readUpgrade(tx.Bucket(bucketCtlMeta))
		return err
	})
	return st, err
}

// decodeAll decodes every value of b (nil: none) as JSON, in key order; what names them in errors.
func decodeAll[T any](b *bolt.Bucket, what string) ([]T, error) {
	if b == nil {
		return nil, nil
	}
	var out []T
	err := b.ForEach(func(_, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
