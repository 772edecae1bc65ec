package replication

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/durable"
	"github.com/fedarms/fedarms/internal/seal"
)

// SealGroupDir converts a group's directory of a plain data dir to one sealed with key, in place:
// the state file's records (and a fed holder's kept batches), the log store's entries and the
// newest snapshot file (older ones are removed; raft needs only the newest). Each file is written
// anew beside the old one and renamed over it, so no plain value is left in a free page. The group must not be open. The caller keeps a
// copy of the whole data dir until it is done (node.EncryptDataDir).
func SealGroupDir(dir string, key *seal.Key) error {
	state := filepath.Join(dir, "state.db")
	if err := rewriteBolt(state, func(bucket, k, v []byte) []byte {
		switch string(bucket) {
		case string(bucketRecords):
			return key.Seal(nil, recordAD(k), v)
		case string(bucketFeedKept):
			return key.Seal(nil, keptAD(k), v)
		}
		return v
	}); err != nil {
		return fmt.Errorf("seal %s: %w", state, err)
	}
	logs := filepath.Join(dir, "raft.db")
	if err := rewriteBolt(logs, func(bucket, k, v []byte) []byte {
		if string(bucket) == string(raftLogsBucket) {
			return key.Seal(nil, logEntryAD(k), v)
		}
		return v
	}); err != nil {
		return fmt.Errorf("seal %s: %w", logs, err)
	}
	// Copies in flight over the feed (received in part, or spooled to serve) are taken again
	// sealed: their plain files must not outlive the conversion.
	for _, d := range []string{partialCopyDir, "feed-serve"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return fmt.Errorf("seal %s: %w", dir, err)
		}
	}
	return sealSnapshots(dir, key)
}

// rewriteBolt copies the bbolt file at path (if there is one) into a new file with each top-level
// bucket's values passed through conv, then renames the new file over it.
func rewriteBolt(path string, conv func(bucket, k, v []byte) []byte) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".sealing"
	if err := removeIfExists(tmp); err != nil {
		return err
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = src.View(func(stx *bolt.Tx) error {
		return stx.ForEach(func(name []byte, sb *bolt.Bucket) error {
			return copyBucket(dst, name, sb, conv)
		})
	})
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(path))
}

// copyBucket copies one top-level bucket (and any nested ones, values unchanged) in transactions
// of a bounded size.
func copyBucket(dst *bolt.DB, name []byte, sb *bolt.Bucket, conv func(bucket, k, v []byte) []byte) error {
	const batch = 10000
	c := sb.Cursor()
	k, v := c.First()
	for first := true; first || k != nil; first = false {
		err := dst.Update(func(tx *bolt.Tx) error {
			db, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			for i := 0; k != nil && i < batch; i++ {
				if v == nil { // a nested bucket
					if nb := sb.Bucket(k); nb != nil {
						if err := copyNested(db, k, nb); err != nil {
							return err
						}
					}
				} else if err := db.Put(append([]byte(nil), k...), conv(name, k, v)); err != nil {
					return err
				}
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyNested(parent *bolt.Bucket, name []byte, sb *bolt.Bucket) error {
	db, err := parent.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	return sb.ForEach(func(k, v []byte) error {
		if v == nil {
			return copyNested(db, k, sb.Bucket(k))
		}
		return db.Put(append([]byte(nil), k...), append([]byte(nil), v...))
	})
}

// sealSnapshots rewrites the newest snapshot of dir's store as a sealed one and removes every
// plain one.
func sealSnapshots(dir string, key *seal.Key) error {
	if _, err := os.Stat(filepath.Join(dir, "snapshots")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	files, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		return err
	}
	list, err := files.List()
	if err != nil {
		return err
	}
	if len(list) > 0 {
		m := list[0] // newest first
		meta, rc, err := files.Open(m.ID)
		if err != nil {
			return err
		}
		_, trans := raft.NewInmemTransport("")
		sink, err := sealedSnapshots{FileSnapshotStore: files, key: key}.Create(meta.Version, meta.Index, meta.Term, meta.Configuration, meta.ConfigurationIndex, trans)
		if err == nil {
			if _, err = io.Copy(sink, rc); err != nil {
				_ = sink.Cancel()
			} else {
				err = sink.Close()
			}
		}
		trans.Close()
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("seal snapshot %s: %w", m.ID, err)
		}
	}
	for _, m := range list {
		if err := os.RemoveAll(filepath.Join(dir, "snapshots", m.ID)); err != nil {
			return err
		}
	}
	return durable.SyncDir(filepath.Join(dir, "snapshots"))
}
