package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Checkpoint says that a central voter's copy of shard, having applied the entries up to Index,
// had the state hash Hash; Signer (the voter's member name) signs it with its node key. A fed
// holder applies a batch of entries ending at Index only if its own hash then equals Hash, so a
// source that adds, changes or drops anything is caught at the first checkpoint.
type Checkpoint struct {
	Shard  string
	Index  uint64
	Hash   StateHash
	Signer string
	Sig    []byte
}

// checkpointDomain separates what a voter signs for a checkpoint from anything else its key signs.
var checkpointDomain = []byte("fedarms checkpoint v1\x00")

// SignedBytes is what the signer's key signs: a domain, the shard, the index and the hash. The
// signer's name is not in it: the verifier looks the name up in the roster to find the key.
func (c *Checkpoint) SignedBytes() []byte {
	b := make([]byte, 0, len(checkpointDomain)+len(c.Shard)+20+StateHashSize)
	b = append(b, checkpointDomain...)
	b = binary.AppendUvarint(b, uint64(len(c.Shard)))
	b = append(b, c.Shard...)
	b = binary.BigEndian.AppendUint64(b, c.Index)
	return c.Hash.AppendBinary(b)
}

// CheckpointSigner signs checkpoints with this node's key; only a central node has one (a
// checkpoint from any other member is refused by every verifier).
type CheckpointSigner interface {
	// Name is this member's name, which verifiers look up in the roster.
	Name() string
	// Sign signs b with the node key.
	Sign(b []byte) ([]byte, error)
}

// CheckpointVerifier accepts a checkpoint only when Signer is a central, non-revoked member of the
// roster and Sig is its key's signature of SignedBytes. The node provides it (replication does
// not read the roster).
type CheckpointVerifier func(c *Checkpoint) error

// ErrNoCheckpoint means no checkpoint can be had for the range asked (the voter's recent hashes do
// not cover it yet, or any more).
var ErrNoCheckpoint = errors.New("no checkpoint for this range")

// Checkpoint signs this node's state hash at an applied index in (after, limit]: the highest it
// keeps at or below want, else the lowest above. Only a voter signs, and only what it applied
// itself.
func (g *Group) Checkpoint(signer CheckpointSigner, after, want, limit uint64) (Checkpoint, error) {
	if signer == nil || g.Status().Role != "voter" {
		return Checkpoint{}, fmt.Errorf("shard %s: only a central voter signs checkpoints", g.shard)
	}
	limit = min(limit, g.state.Stats().AppliedIndex)
	p, ok := g.state.hash.pick(after, want, limit)
	if !ok {
		return Checkpoint{}, fmt.Errorf("shard %s: (%d, %d]: %w", g.shard, after, limit, ErrNoCheckpoint)
	}
	cp := Checkpoint{Shard: g.shard, Index: p.index, Hash: p.hash, Signer: signer.Name()}
	sig, err := signer.Sign(cp.SignedBytes())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	cp.Sig = sig
	return cp, nil
}
