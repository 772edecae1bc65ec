package transport

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// IdentityFile is the name of the node key inside the data dir.
const IdentityFile = "node.key"

// ErrKeyPermissions is returned when the node key file can be read by other users: a key that may
// have leaked is not used silently.
var ErrKeyPermissions = errors.New("node key file is readable by group or others")

// Identity is a node's libp2p key pair; its peer id is the node's name on the wire and in the roster.
type Identity struct {
	// Key is the node's Ed25519 private key.
	Key crypto.PrivKey
	// ID is the peer id derived from Key.
	ID peer.ID
}

// LoadOrCreateIdentity reads the node key from dir/node.key, or creates it (mode 0600, written
// atomically) when there is none, so a node keeps its peer id across restarts.
func LoadOrCreateIdentity(dir string) (*Identity, error) {
	path := filepath.Join(dir, IdentityFile)
	id, err := loadIdentity(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create data dir: %w", err)
	}
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("identity: encode key: %w", err)
	}
	if err := writeFileAtomic(path, raw, 0o600); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return identityFromKey(priv)
}

// NewIdentity wraps an existing private key (for example one generated in a test).
func NewIdentity(priv crypto.PrivKey) (*Identity, error) {
	if priv.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("identity: key type %s, want Ed25519", priv.Type())
	}
	return identityFromKey(priv)
}

func identityFromKey(priv crypto.PrivKey) (*Identity, error) {
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("identity: peer id: %w", err)
	}
	return &Identity{Key: priv, ID: id}, nil
}

// LoadIdentity reads a node key kept outside the data dir (federation.key_file, or the copy systemd
// passes in $CREDENTIALS_DIRECTORY); like the key in the data dir, it must not be readable by group
// or others.
func LoadIdentity(path string) (*Identity, error) { return loadIdentity(path) }

func loadIdentity(path string) (*Identity, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("identity: %s has mode %v (run chmod 600 on it): %w", path, st.Mode().Perm(), ErrKeyPermissions)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("identity: decode %s: %w", path, err)
	}
	return NewIdentity(priv)
}

// writeFileAtomic writes through a temporary file and a rename so that a crash never leaves a
// truncated key behind (which would silently change the node's peer id on the next start).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}
