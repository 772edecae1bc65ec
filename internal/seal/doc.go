// Package seal owns the data key of an encrypted data dir: values sealed with AES-256-GCM (a
// fresh random nonce each, the bucket and key they are stored under as associated data, so a
// value moved to another key no longer opens), keyed hashes for lookup keys that would otherwise
// reveal what they index, sealed streams for snapshot files, and the key file that keeps the data
// key in the data dir, itself sealed by a passphrase or a systemd credential where one is
// configured, and destroyed when the node is revoked.
//
// A nil *Key stands for a plain data dir (written before data was encrypted): its methods pass
// values through unchanged, so a store holds one *Key and never asks which kind of dir it is in.
//
// It imports no other fedarms package but internal/durable, which writes its key file.
package seal
