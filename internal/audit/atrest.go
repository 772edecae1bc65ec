package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
)

// In an encrypted data dir (Options.Key set) an entry is stored, in bucket "audit" and in the
// journal alike, as its sequence key (8 bytes, in clear: a position says nothing of a search)
// followed by the entry's bytes sealed with the data key under that sequence key. The hash chain
// is over the plain bytes, as before, so anchors and verification mean the same in both kinds of
// dir; only reading the bytes needs the key. These two functions are the one place that seals and
// opens them.

// errSealedElsewhere means a sealed entry is stored under another sequence than it was sealed for.
var errSealedElsewhere = errors.New("sealed for another position")

// sealValue returns the value to store for the entry with plain bytes at seq.
func sealValue(key *atrest.Key, seq uint64, plain []byte) []byte {
	if key == nil {
		return plain
	}
	// One allocation of the final size: the sequence key, then the sealed bytes appended to it.
	v := make([]byte, 8, 8+atrest.Overhead+len(plain))
	binary.BigEndian.PutUint64(v, seq)
	return key.Seal(v, atrest.AD(bucketEntries, v), plain)
}

// openValue returns the plain bytes of a stored value; k, when not nil, is the key it is stored
// under in bucket "audit" (a journal value has none besides its own prefix).
func openValue(key *atrest.Key, k, v []byte) ([]byte, error) {
	if key == nil {
		return v, nil
	}
	if len(v) < 8 {
		return nil, fmt.Errorf("sealed entry of %d bytes", len(v))
	}
	if k != nil && !bytes.Equal(k, v[:8]) {
		return nil, errSealedElsewhere
	}
	return key.Open(nil, atrest.AD(bucketEntries, v[:8]), v[8:])
}

// VerifySealedWithJournal is VerifyWithJournalAnchored for the files of an encrypted data dir,
// read with its data key (nil: a plain dir; anchors nil: none to check against).
func VerifySealedWithJournal(db *bbolt.DB, path string, key *atrest.Key, anchors []Anchor) (Report, error) {
	w := walker{key: key}
	if anchors != nil {
		w.anchors = anchorsBySeq(anchors)
	}
	if err := w.walkWithJournal(db, path); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	if anchors != nil {
		w.checkAnchorsCut()
	}
	return w.report, nil
}

// SealValue is how a plain node.db value under key in bucket is stored in an encrypted dir: an
// audit entry sealed, anything else as it is. It is for converting a plain data dir.
func SealValue(k *atrest.Key, bucket, key, v []byte) []byte {
	if k == nil || !bytes.Equal(bucket, bucketEntries) || len(key) != 8 {
		return v
	}
	return k.Seal(append([]byte(nil), key...), atrest.AD(bucketEntries, key), v)
}
