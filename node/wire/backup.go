package wire

// BackupRequest is the body of POST /v1/admin/backup (optional: an empty body asks for a backup
// without the node's identity).
type BackupRequest struct {
	// Identity puts the node key (its libp2p identity) in the backup. The key is a secret: whoever
	// holds it can act as this node in the federation, so a backup with it must be kept like the
	// key itself.
	Identity bool `json:"identity"`
}
