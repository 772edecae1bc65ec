package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/durable"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/wire"
)

// Data at rest. A data dir this release creates is in format 2 (sealedDataFormat): every value
// that may carry a serial, a make, a model or a searched query (shard records, raft log entries,
// snapshot files, node.db's hits, traces, decisions, webhook queue and audit entries, the audit
// journal) is sealed with a random data key kept in DATA/datakey.json. That file is sealed by a
// passphrase or a systemd credential when [storage] names one. A dir in format 1 (plain, written
// by an earlier release) keeps working as it is and is reported in health; docs/operations.md
// says how to move it to an encrypted one.
//
// A node that learns it is revoked destroys the key first (its data is noise from then on), then
// removes its data, leaves DATA/REVOKED saying so, and stops serving.

// ErrRevoked is returned by Open and Serve on a node that has been revoked from the federation.
var ErrRevoked = errors.New("this node has been revoked from the federation")

// revokedFile is what a revoked node leaves in its data dir, so that no start opens it again.
const revokedFile = "REVOKED"

// atRest is what the node knows of its data dir's encryption.
type atRest struct {
	key     *seal.Key // nil: a plain dir
	sealing string    // seal.Sealed*, or "" for a plain dir
	// revoked is set once the node learned it is revoked; Serve then returns ErrRevoked.
	revoked atomic.Bool
}

// openDataKey loads (or, for a new dir, creates) the data key of a dir in format; a plain dir has
// none.
func openDataKey(cfg *config.Config, format int, fresh bool, log *slog.Logger) (atRest, error) {
	if format < sealedDataFormat {
		log.Warn("the data dir is not encrypted at rest (created by an earlier release or with storage.plain): a lost device gives its records away; see docs/operations.md, \"Encryption at rest\"",
			"dir", cfg.DataDir)
		return atRest{}, nil
	}
	secret, err := seal.ReadSecret(cfg.Storage.PassphraseFile, cfg.Storage.Credential)
	if err != nil {
		return atRest{}, err
	}
	var key *seal.Key
	var info seal.KeyInfo
	_, statErr := os.Stat(filepath.Join(cfg.DataDir, seal.KeyFileName))
	if fresh && errors.Is(statErr, fs.ErrNotExist) {
		key, info, err = seal.CreateKey(cfg.DataDir, secret)
	} else {
		key, info, err = seal.LoadKey(cfg.DataDir, secret)
	}
	if err != nil {
		return atRest{}, fmt.Errorf("storage: %w", err)
	}
	if info.Sealing == seal.SealedNone {
		log.Warn("the data key is not sealed (no storage.passphrase_file or storage.credential): data is encrypted, but a lost device holds its key; revocation still destroys it",
			"key", info.Path)
	} else {
		log.Info("data encrypted at rest", "sealed_by", info.Sealing)
	}
	return atRest{key: key, sealing: info.Sealing}, nil
}

// refuseRevokedDir stops a start on the data dir of a revoked node.
func refuseRevokedDir(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, revokedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("%w: %s says %q; its data was destroyed. To serve again this machine must be admitted anew with an empty data dir",
		ErrRevoked, filepath.Join(dir, revokedFile), string(b))
}

// atRestHealth is the "at_rest" health check.
func (n *Node) atRestHealth() wire.HealthCheck {
	switch n.atRest.sealing {
	case "":
		return wire.HealthCheck{Status: "ok", Detail: "not encrypted: a data dir of an earlier release (format 1) or storage.plain; see docs/operations.md to encrypt it"}
	case seal.SealedNone:
		return wire.HealthCheck{Status: "ok", Detail: "encrypted; the data key is not sealed (set storage.passphrase_file or storage.credential to protect a lost device)"}
	}
	return wire.HealthCheck{Status: "ok", Detail: "encrypted; the data key is sealed by a " + n.atRest.sealing}
}

// removeData removes everything in dir but its lock and leaves REVOKED in its place.
func removeData(dir string, now time.Time) error {
	if err := durable.WriteFile(filepath.Join(dir, revokedFile), []byte("revoked at "+now.UTC().Format(time.RFC3339)+"\n")); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.Name() == lockFile || e.Name() == revokedFile {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	errs = append(errs, durable.SyncDir(dir))
	return errors.Join(errs...)
}

// dataFormat is the format of the open data dir.
func (n *Node) dataFormat() int {
	if n.atRest.key != nil {
		return sealedDataFormat
	}
	return plainDataFormat
}

// sealIn seals v, stored under key k of node.db's bucket b, with the data key (a plain dir: v
// itself); openIn reverses it. The bucket and key are the associated data, so a value moved to
// another key does not open.
func sealIn(key *seal.Key, b, k, v []byte) []byte { return key.Seal(nil, seal.AD(b, k), v) }

func openIn(key *seal.Key, b, k, v []byte) ([]byte, error) { return key.Open(nil, seal.AD(b, k), v) }

// sealedNodeBuckets are node.db's buckets, outside node/notify and the audit log, whose values
// sealIn seals; the files that own them add them at init (late_handover.go), so this layer names
// none of them.
var sealedNodeBuckets [][]byte

// sealNodeValue is how a plain value of one of sealedNodeBuckets is stored once its dir is
// encrypted (fedarms storage encrypt); a value of any other bucket is returned as it is.
func sealNodeValue(k *seal.Key, bucket, key, v []byte) []byte {
	if k == nil || len(v) == 0 {
		return v
	}
	for _, b := range sealedNodeBuckets {
		if string(b) == string(bucket) {
			return sealIn(k, bucket, key, v)
		}
	}
	return v
}
