package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/seal"
)

// storageFlags adds the flags that open a sealed data key: the same secret the node's
// [storage] section names.
func storageFlags(cmd *cobra.Command, s *config.Storage) {
	cmd.Flags().StringVar(&s.PassphraseFile, "passphrase-file", "", "file holding the passphrase that seals the data key (the node's storage.passphrase_file)")
	cmd.Flags().StringVar(&s.Credential, "credential", "", "systemd credential that seals the data key (the node's storage.credential; run under systemd-run -p LoadCredentialEncrypted=...)")
}

// offlineDataKey opens the data key of a stopped node's data dir without changing anything; a
// plain dir (no key file) has none.
func offlineDataKey(dataDir string, s config.Storage) (*seal.Key, error) {
	if _, err := os.Stat(filepath.Join(dataDir, seal.KeyFileName)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	secret, err := seal.ReadSecret(s.PassphraseFile, s.Credential)
	if err != nil {
		return nil, err
	}
	k, _, err := seal.ReadKey(dataDir, secret)
	return k, err
}
