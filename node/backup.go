package node

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// A backup is a tar stream of the node's files, each copied consistently while the node serves,
// ending with MANIFEST.json (it names every file with its size and SHA-256, so it can only come
// last). See docs/operations.md, "Backup and restore".
//
//	control/control.db        the control state (federated nodes)
//	shards/SHARD/state.db     each held shard's state file, at the applied index the manifest gives
//	node.db                   hits, traces, tokens, the audit log (its journal folded in first)
//	node.key                  the node's identity, only when asked: a secret
//	datakey.json              the data key of an encrypted dir (data format 2), as sealed there:
//	                          every other file is encrypted with it, so the backup is as safe as
//	                          that sealing (a passphrase or credential, or none)
//	sample.loaded             a dev node's marker that its sample is loaded
//	MANIFEST.json
//
// Raft logs and snapshots are not copied: a restore hands raft each shard's state as a snapshot
// at its applied index (replication.RestoreGroup).

// BackupFormat is the format of a backup this release writes and the newest it restores.
const BackupFormat = 1

// ManifestFile is the name of a backup's manifest, its last file.
const ManifestFile = "MANIFEST.json"

// backupErrorFile is written instead of the manifest when a backup fails midway: a streamed
// answer cannot change its status any more.
const backupErrorFile = "ERROR"

// BackupManifest describes a backup: where it comes from, where each copy stands, and every file.
type BackupManifest struct {
	Format     int       `json:"format"`
	Release    string    `json:"release"`
	Node       string    `json:"node"`
	Role       string    `json:"role"`
	DataFormat int       `json:"data_format"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	// Identity says node.key is in the backup (a secret).
	Identity bool                    `json:"identity"`
	Control  *replication.BackupMeta `json:"control,omitempty"`
	Shards   []BackupShard           `json:"shards"`
	Files    []BackupFile            `json:"files"`
}

// BackupShard is one shard's copy in a backup.
type BackupShard struct {
	Shard string `json:"shard"`
	replication.BackupMeta
}

// BackupFile is one file of a backup.
type BackupFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupEstimate is roughly how many bytes a backup of this node writes (the files it copies, as
// they are now), for a progress bar.
func (n *Node) BackupEstimate() int64 {
	paths := []string{filepath.Join(n.cfg.DataDir, "node.db"), filepath.Join(controlDir(n.cfg), "control.db")}
	for _, s := range n.held {
		paths = append(paths, n.groups[s].State().Path())
	}
	var total int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	return total
}

// Backup writes a backup of the node to w (a tar stream) while the node goes on serving, as admin
// p. Each file is a consistent copy; the shards are copied one after the other, each at its own
// applied index, which the manifest gives. A failure after the first byte is written as an ERROR
// file in place of the manifest.
func (n *Node) Backup(ctx context.Context, p auth.Principal, req wire.BackupRequest, w io.Writer) error {
	if req.Identity && n.cfg.Federation == nil {
		return wire.Errorf(wire.Invalid, "no_identity", "this node is not federated and has no identity to back up")
	}
	b := &backupWriter{tw: tar.NewWriter(w), now: n.now}
	m := BackupManifest{Format: BackupFormat, Release: Version, Node: n.cfg.Name, Role: n.cfg.Role,
		DataFormat: n.dataFormat(), Started: n.now().UTC(), Shards: []BackupShard{}}
	err := n.backup(ctx, req, b, &m)
	if err == nil {
		m.Finished = n.now().UTC()
		m.Files = b.files
		var raw []byte
		raw, err = json.MarshalIndent(m, "", "  ")
		if err == nil {
			err = b.add(ManifestFile, int64(len(raw)+1), func(w io.Writer) (int64, error) {
				k, err := w.Write(append(raw, '\n'))
				return int64(k), err
			})
		}
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		msg := []byte(err.Error() + "\n")
		// Best effort: the stream may be what failed.
		_ = b.add(backupErrorFile, int64(len(msg)), func(w io.Writer) (int64, error) {
			k, err := w.Write(msg)
			return int64(k), err
		})
	}
	if cerr := b.tw.Close(); err == nil {
		err = cerr
	}
	var size int64
	for _, f := range b.files {
		size += f.Size
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "admin.backup",
		Query: mustJSON(map[string]any{"identity": req.Identity, "bytes": size, "shards": len(m.Shards)}), Outcome: outcome})
	n.log.Info("backup", "subsystem", "backup", "outcome", outcome, "bytes", size, "identity", req.Identity,
		"took", n.since(m.Started).Round(time.Millisecond), "error", err)
	return err
}

func (n *Node) backup(ctx context.Context, req wire.BackupRequest, b *backupWriter, m *BackupManifest) error {
	keyPath := ""
	if req.Identity {
		keyPath = n.cfg.Federation.KeyFile
		if keyPath == "" {
			keyPath = filepath.Join(n.cfg.DataDir, transport.IdentityFile)
		}
	}
	if n.fed != nil && n.fed.control != nil {
		c, err := n.fed.control.CopyState(ctx)
		if err != nil {
			return err
		}
		meta := c.Meta
		err = b.add("control/control.db", c.Size(), c.WriteTo)
		c.Close()
		if err != nil {
			return err
		}
		m.Control = &meta
	}
	for _, s := range n.held {
		c, err := n.groups[s].CopyState(ctx)
		if err != nil {
			return err
		}
		meta := c.Meta
		err = b.add("shards/"+s+"/state.db", c.Size(), c.WriteTo)
		c.Close()
		if err != nil {
			return err
		}
		m.Shards = append(m.Shards, BackupShard{Shard: s, BackupMeta: meta})
	}
	// Every acknowledged audit entry into node.db (Tail folds the journal first), so node.db alone
	// holds the log as of the copy.
	if _, err := n.audit.Tail(1); err != nil {
		return fmt.Errorf("fold the audit journal: %w", err)
	}
	err := n.db.View(func(tx *bolt.Tx) error { return b.add("node.db", tx.Size(), tx.WriteTo) })
	if err != nil {
		return err
	}
	if keyPath != "" {
		if err := b.addFile(transport.IdentityFile, keyPath); err != nil {
			return fmt.Errorf("node key: %w", err)
		}
		m.Identity = true
	}
	if n.atRest.key != nil {
		if err := b.addFile(seal.KeyFileName, filepath.Join(n.cfg.DataDir, seal.KeyFileName)); err != nil {
			return fmt.Errorf("data key: %w", err)
		}
	}
	marker := filepath.Join(n.cfg.DataDir, "sample.loaded")
	if _, err := os.Stat(marker); err == nil {
		return b.addFile("sample.loaded", marker)
	}
	return nil
}

// backupWriter writes the files of a backup to its tar stream and notes each file's checksum.
type backupWriter struct {
	tw    *tar.Writer
	now   func() time.Time
	files []BackupFile
}

// add writes one file of size bytes, which write must produce exactly.
func (b *backupWriter) add(name string, size int64, write func(io.Writer) (int64, error)) error {
	hdr := &tar.Header{Name: name, Size: size, Mode: 0o600, ModTime: b.now(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := b.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	h := sha256.New()
	k, err := write(io.MultiWriter(b.tw, h))
	if err == nil && k != size {
		err = fmt.Errorf("wrote %d bytes, announced %d", k, size)
	}
	if err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if name != ManifestFile && name != backupErrorFile {
		b.files = append(b.files, BackupFile{Path: name, Size: size, SHA256: sum(h)})
	}
	return nil
}

// addFile adds a small file read whole (a key, a marker).
func (b *backupWriter) addFile(name, path string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return err
	}
	return b.add(name, int64(len(raw)), func(w io.Writer) (int64, error) {
		k, err := w.Write(raw)
		return int64(k), err
	})
}

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
