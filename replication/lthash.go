package replication

import (
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"encoding/hex"
)

// StateHashLanes is the number of 16-bit lanes of a StateHash.
const StateHashLanes = 1024

// StateHashSize is the encoded size of a StateHash in bytes.
const StateHashSize = 2 * StateHashLanes

// stateHashDomain separates the expansion of a record from any other use of SHAKE128.
var stateHashDomain = []byte("fedarms state hash v1\x00")

// StateHash is a collision-resistant hash of a set of records that is kept current by adding and
// removing records, in any order: the LtHash construction (Bellare-Micciancio; Lewi et al.), 1024
// lanes of 16 bits, each record expanded to 2 KiB with SHAKE128 over its key and value and added
// lane-wise mod 2^16. Unlike Digest, which sums four 64-bit words and can be steered to any value
// by choosing records, finding two sets with the same StateHash is as hard as the short-vector
// problem the construction reduces to, so a hash signed by a voter proves a copy's contents.
type StateHash [StateHashLanes]uint16

// expand fills lanes with the record's expansion.
func expandRecord(key, value []byte, lanes *StateHash) {
	h := sha3.NewSHAKE128()
	h.Write(stateHashDomain)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	h.Write(key)
	h.Write(value)
	var out [StateHashSize]byte
	h.Read(out[:])
	for i := range lanes {
		lanes[i] = binary.LittleEndian.Uint16(out[2*i:])
	}
}

// add adds a record (its key and stored value) to the set.
func (s *StateHash) add(key, value []byte) {
	var e StateHash
	expandRecord(key, value, &e)
	for i := range s {
		s[i] += e[i]
	}
}

// remove takes a record out of the set; it must have been added.
func (s *StateHash) remove(key, value []byte) {
	var e StateHash
	expandRecord(key, value, &e)
	for i := range s {
		s[i] -= e[i]
	}
}

// AppendBinary appends the lanes, little-endian.
func (s *StateHash) AppendBinary(b []byte) []byte {
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

// setBinary reads lanes written by AppendBinary; b must be StateHashSize bytes.
func (s *StateHash) setBinary(b []byte) bool {
	if len(b) != StateHashSize {
		return false
	}
	for i := range s {
		s[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return true
}

// Short is a short fingerprint of the hash (SHA-256 of its lanes, 8 bytes in hex) for logs.
func (s *StateHash) Short() string {
	sum := sha256.Sum256(s.AppendBinary(make([]byte, 0, StateHashSize)))
	return hex.EncodeToString(sum[:8])
}
