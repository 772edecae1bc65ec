package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"

	"github.com/fedarms/fedarms/internal/durable"
)

// KeyFileName is the data key's file in the data dir.
const KeyFileName = "datakey.json"

// How the data key is kept in its file.
const (
	// SealedNone: the key is in the file as is. A lost device is not protected; revocation still
	// destroys the key.
	SealedNone = "none"
	// SealedPassphrase: sealed by a key derived (argon2id) from a passphrase read from a file.
	SealedPassphrase = "passphrase"
	// SealedCredential: sealed by a key derived from a systemd credential
	// (LoadCredentialEncrypted=, read from $CREDENTIALS_DIRECTORY).
	SealedCredential = "credential"
)

// ErrNoKey means an encrypted data dir has no key file: its data cannot be read any more.
var ErrNoKey = errors.New("the data key is gone")

// ErrWrongSecret means the configured passphrase or credential does not open the key file.
var ErrWrongSecret = errors.New("the configured secret does not open the data key")

// Secret is what seals the key file: a passphrase or a credential, with where it came from.
type Secret struct {
	Kind   string // SealedPassphrase or SealedCredential
	Source string // the file it was read from, for messages
	value  []byte
}

// ReadSecret reads the configured secret: the passphrase file, or the systemd credential of that
// name. Neither configured gives nil (the key file is then not sealed).
func ReadSecret(passphraseFile, credential string) (*Secret, error) {
	switch {
	case passphraseFile != "" && credential != "":
		return nil, errors.New("storage: set passphrase_file or credential, not both")
	case passphraseFile != "":
		return readSecret(SealedPassphrase, passphraseFile)
	case credential != "":
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return nil, fmt.Errorf("storage: credential %q is configured but $CREDENTIALS_DIRECTORY is not set: start the node from its systemd unit (LoadCredentialEncrypted=%s:...)", credential, credential)
		}
		return readSecret(SealedCredential, filepath.Join(dir, credential))
	}
	return nil, nil
}

func readSecret(kind, path string) (*Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("storage: read the %s: %w", kind, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("storage: the %s in %s is empty", kind, path)
	}
	return &Secret{Kind: kind, Source: path, value: b}, nil
}

// keyFile is the content of KeyFileName.
type keyFile struct {
	Version int    `json:"version"`
	Sealing string `json:"sealing"`
	KDF     *kdf   `json:"kdf,omitempty"`
	Key     []byte `json:"key"` // the data key (sealing none) or Seal'd under the derived key
}

// kdf are the argon2id parameters the sealing key was derived with.
type kdf struct {
	Name    string `json:"name"` // argon2id
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
	Salt    []byte `json:"salt"`
}

// RFC 9106's second recommended option (64 MiB, 3 passes): about 0.1-0.2 s once per start.
var defaultKDF = kdf{Name: "argon2id", Time: 3, Memory: 64 << 10, Threads: 1}

var keyFileAD = []byte("fedarms data key file v1")

// KeyInfo says how a loaded key is kept, for health and logs.
type KeyInfo struct {
	Sealing string // SealedNone, SealedPassphrase or SealedCredential
	Path    string
}

// CreateKey makes a new random data key and writes it to dir's key file, sealed by secret (nil:
// not sealed). It refuses to replace an existing key file.
func CreateKey(dir string, secret *Secret) (*Key, KeyInfo, error) {
	path := filepath.Join(dir, KeyFileName)
	if _, err := os.Stat(path); err == nil {
		return nil, KeyInfo{}, fmt.Errorf("%s exists: refusing to replace a data key", path)
	}
	raw := Generate()
	k, err := NewKey(raw)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	info, err := writeKeyFile(path, raw, secret)
	return k, info, err
}

// LoadKey reads dir's key file and opens it with secret. A key file that is not sealed is sealed
// with secret now, if one is configured (so configuring a passphrase later protects the dir).
func LoadKey(dir string, secret *Secret) (*Key, KeyInfo, error) {
	k, raw, info, err := openKeyFile(dir, secret)
	if err != nil {
		return nil, info, err
	}
	if info.Sealing == SealedNone && secret != nil {
		if info, err = writeKeyFile(info.Path, raw, secret); err != nil {
			return nil, info, err
		}
	}
	return k, info, nil
}

// Reseal writes dir's key file anew, sealed by next (nil: not sealed), after opening it with old.
// A wrong old secret changes nothing.
func Reseal(dir string, old, next *Secret) (KeyInfo, error) {
	_, raw, info, err := openKeyFile(dir, old)
	if err != nil {
		return info, err
	}
	return writeKeyFile(info.Path, raw, next)
}

// ReadKey is LoadKey that never writes: for tools reading a stopped node's files.
func ReadKey(dir string, secret *Secret) (*Key, KeyInfo, error) {
	k, _, info, err := openKeyFile(dir, secret)
	return k, info, err
}

func openKeyFile(dir string, secret *Secret) (*Key, []byte, KeyInfo, error) {
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, KeyInfo{}, fmt.Errorf("%w: %s is missing, so the encrypted data in %s cannot be read (a revoked node destroys it; otherwise restore the dir from a backup)", ErrNoKey, path, dir)
	}
	if err != nil {
		return nil, nil, KeyInfo{}, fmt.Errorf("read the data key: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil, nil, KeyInfo{}, fmt.Errorf("%s is unreadable: restore the data dir from a backup", path)
	}
	info := KeyInfo{Sealing: f.Sealing, Path: path}
	var raw []byte
	switch f.Sealing {
	case SealedNone:
		raw = f.Key
	case SealedPassphrase, SealedCredential:
		if secret == nil {
			return nil, nil, info, fmt.Errorf("%s is sealed by a %s and none is configured: set [storage] %s", path, f.Sealing, configName(f.Sealing))
		}
		if f.KDF == nil || f.KDF.Name != "argon2id" {
			return nil, nil, info, fmt.Errorf("%s: unknown key derivation", path)
		}
		kek, err := kekFor(secret.value, *f.KDF)
		if err != nil {
			return nil, nil, info, err
		}
		if raw, err = kek.Open(nil, keyFileAD, f.Key); err != nil {
			return nil, nil, info, fmt.Errorf("%w: the %s from %s does not open %s (nothing was changed)", ErrWrongSecret, secret.Kind, secret.Source, path)
		}
	default:
		return nil, nil, info, fmt.Errorf("%s: unknown sealing %q", path, f.Sealing)
	}
	k, err := NewKey(raw)
	if err != nil {
		return nil, nil, info, fmt.Errorf("%s: %w", path, err)
	}
	return k, raw, info, nil
}

func configName(sealing string) string {
	if sealing == SealedCredential {
		return "credential (and LoadCredentialEncrypted= in the unit)"
	}
	return "passphrase_file"
}

func kekFor(secret []byte, p kdf) (*Key, error) {
	if p.Time == 0 || p.Time > 100 || p.Memory < 8 || p.Memory > 4<<20 || p.Threads == 0 || len(p.Salt) < 16 {
		return nil, errors.New("key file: key derivation parameters out of range")
	}
	return NewKey(argon2.IDKey(secret, p.Salt, p.Time, p.Memory, p.Threads, KeySize))
}

func writeKeyFile(path string, raw []byte, secret *Secret) (KeyInfo, error) {
	f := keyFile{Version: 1, Sealing: SealedNone, Key: raw}
	if secret != nil {
		p := defaultKDF
		p.Salt = make([]byte, 16)
		_, _ = rand.Read(p.Salt)
		kek, err := kekFor(secret.value, p)
		if err != nil {
			return KeyInfo{}, err
		}
		f = keyFile{Version: 1, Sealing: secret.Kind, KDF: &p, Key: kek.Seal(nil, keyFileAD, raw)}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return KeyInfo{}, err
	}
	if err := durable.WriteFile(path, append(b, '\n')); err != nil {
		return KeyInfo{}, fmt.Errorf("write the data key: %w", err)
	}
	return KeyInfo{Sealing: f.Sealing, Path: path}, nil
}

// DestroyKey overwrites dir's key file with random bytes, syncs it and removes it. Without the
// key, every value and stream sealed with it is noise. (On flash or a copy-on-write file system
// the overwrite may land elsewhere; a sealed key file is still useless without its secret.)
func DestroyKey(dir string) error {
	path := filepath.Join(dir, KeyFileName)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("destroy the data key: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		noise := make([]byte, st.Size())
		_, _ = rand.Read(noise)
		if _, err = f.WriteAt(noise, 0); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("destroy the data key: %w", err)
	}
	for _, p := range []string{path, path + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("destroy the data key: %w", err)
		}
	}
	return durable.SyncDir(dir)
}

// SealingOf says how dir's key file is kept, without opening it ("" and no error: there is none).
func SealingOf(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, KeyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("%s is unreadable", filepath.Join(dir, KeyFileName))
	}
	return f.Sealing, nil
}
