package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/durable"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/replication"
)

// Converting a plain data dir (format 1) to an encrypted one (format 2) is an operator's act on a
// stopped node (fedarms storage encrypt), never a side effect of an upgrade: it rewrites every file,
// and while it runs the data dir machinery keeps a plain copy beside the dir (datadir.go), which it
// removes once the dir is in format 2.

// EncryptDataDir converts the plain data dir at dir to format 2 under a new data key, sealed by
// secret (nil: unsealed). It refuses a dir in use, or one that is encrypted already.
func EncryptDataDir(dir string, secret *seal.Secret, log *slog.Logger, now func() time.Time) error {
	lock, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := refuseRevokedDir(dir); err != nil {
		return err
	}
	f, err := readDataFormat(dir)
	if err != nil {
		return err
	}
	if f.Format != plainDataFormat {
		return fmt.Errorf("%s is in data format %d, not a plain dir (format 1): nothing to do", dir, f.Format)
	}
	before, _ := filepath.Glob(filepath.Clean(dir) + ".format-1-*")
	step := migration{From: plainDataFormat, Run: func(dir string) error { return encryptDir(dir, secret) }}
	if err := prepareDataDirWith(dir, log, now, sealedDataFormat, []migration{step}); err != nil {
		return err
	}
	// The plain copy was the way back while the dir was half converted; now it is only a copy of
	// the data in clear.
	after, _ := filepath.Glob(filepath.Clean(dir) + ".format-1-*")
	for _, c := range after {
		if !slices.Contains(before, c) {
			log.Info("removing the plain copy kept while the data dir was encrypted", "copy", c)
			if err := os.RemoveAll(c); err != nil {
				return fmt.Errorf("the dir is encrypted, but its plain copy %s remains (remove it): %w", c, err)
			}
		}
	}
	return nil
}

// encryptDir is the migration from format 1 to 2.
func encryptDir(dir string, secret *seal.Secret) error {
	if err := foldAuditJournal(dir); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, seal.KeyFileName)) // left by an interrupted attempt: never used
	key, _, err := seal.CreateKey(dir, secret)
	if err != nil {
		return err
	}
	groups, _ := filepath.Glob(filepath.Join(dir, "shards", "*"))
	if inbox := filepath.Join(dir, "inbox"); dirExists(inbox) { // the GS inbox's group (central)
		groups = append(groups, inbox)
	}
	for _, g := range groups {
		if err := replication.SealGroupDir(g, key); err != nil {
			return err
		}
	}
	return sealNodeDB(filepath.Join(dir, "node.db"), key)
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// foldAuditJournal moves what the audit journal holds into node.db (a node killed before it
// folded), then removes the journal, whose old frames would stay in clear.
func foldAuditJournal(dir string) error {
	path := filepath.Join(dir, "audit.journal")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := bolt.Open(filepath.Join(dir, "node.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	l, err := audit.Open(db, audit.Options{Journal: path})
	if err == nil {
		err = l.Close()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fold the audit journal: %w", err)
	}
	return os.Remove(path)
}

// sealNodeDB rewrites node.db with every value that can carry a search sealed (notify and audit
// say which), into a new file renamed over the old one.
func sealNodeDB(path string, key *seal.Key) error {
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".sealing"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	err = src.View(func(stx *bolt.Tx) error {
		return stx.ForEach(func(name []byte, sb *bolt.Bucket) error {
			return dst.Update(func(tx *bolt.Tx) error {
				db, err := tx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				return sb.ForEach(func(k, v []byte) error {
					if v == nil {
						return fmt.Errorf("bucket %s: a nested bucket %q this release does not write", name, k)
					}
					v = sealNodeValue(key, name, k, notify.SealValue(key, name, k, audit.SealValue(key, name, k, v)))
					return db.Put(append([]byte(nil), k...), append([]byte(nil), v...))
				})
			})
		})
	})
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("seal node.db: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(path))
}

// RekeyDataDir seals the data key of the stopped node's dir under a new secret.
func RekeyDataDir(dir string, old, next *seal.Secret) (seal.KeyInfo, error) {
	lock, err := lockDataDir(dir)
	if err != nil {
		return seal.KeyInfo{}, err
	}
	defer lock.Close()
	return seal.Reseal(dir, old, next)
}
