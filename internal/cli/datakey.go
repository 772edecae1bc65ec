package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node"
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

func storageCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Encryption at rest of a stopped node's data dir: encrypt a plain one, change the secret that seals its key",
	}
	var dataDir string
	var storage config.Storage
	encrypt := &cobra.Command{
		Use:   "encrypt --data DIR [--passphrase-file FILE | --credential NAME]",
		Short: "Encrypt a plain data dir (format 1, from an earlier release) in place, on a stopped node",
		Long: `encrypt seals every record, raft log entry, snapshot and node.db value of a plain data dir under
a new data key, kept in DIR/datakey.json sealed by the passphrase or credential given (none: not
sealed). It keeps a copy of the dir while it works, as any data dir migration does (a start after
a crash puts it back), and removes that plain copy once the dir is in format 2. Start the node
afterwards with the same [storage] secret.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--data is required")}
			}
			secret, err := seal.ReadSecret(storage.PassphraseFile, storage.Credential)
			if err != nil {
				return err
			}
			if err := node.EncryptDataDir(dataDir, secret, newLogger(e.stderr, "text", "info"), time.Now); err != nil {
				return err
			}
			sealing := seal.SealedNone
			if secret != nil {
				sealing = secret.Kind
			}
			fmt.Fprintf(e.stdout, "%s is encrypted at rest (data format 2); its data key is sealed by: %s\n", dataDir, sealing)
			return nil
		},
	}
	encrypt.Flags().StringVar(&dataDir, "data", "", "the stopped node's data dir")
	storageFlags(encrypt, &storage)

	var rekeyDir string
	var old, next config.Storage
	rekey := &cobra.Command{
		Use:   "rekey --data DIR [--passphrase-file OLD | --credential OLD] [--new-passphrase-file NEW | --new-credential NEW]",
		Short: "Seal a stopped node's data key under a new passphrase or credential",
		Long: `rekey opens DIR/datakey.json with the old secret (none: an unsealed key) and writes it sealed by
the new one (none: not sealed). The data itself is not rewritten: the data key stays the same. A
wrong old secret changes nothing. Set the new secret in [storage] before starting the node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rekeyDir == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--data is required")}
			}
			o, err := seal.ReadSecret(old.PassphraseFile, old.Credential)
			if err != nil {
				return err
			}
			n, err := seal.ReadSecret(next.PassphraseFile, next.Credential)
			if err != nil {
				return err
			}
			info, err := node.RekeyDataDir(rekeyDir, o, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "the data key of %s is now sealed by: %s\n", rekeyDir, info.Sealing)
			return nil
		},
	}
	rekey.Flags().StringVar(&rekeyDir, "data", "", "the stopped node's data dir")
	storageFlags(rekey, &old)
	rekey.Flags().StringVar(&next.PassphraseFile, "new-passphrase-file", "", "file holding the new passphrase")
	rekey.Flags().StringVar(&next.Credential, "new-credential", "", "systemd credential holding the new secret")
	cmd.AddCommand(encrypt, rekey)
	return cmd
}
