package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size of a data key: AES-256.
const KeySize = 32

// valueVersion leads every sealed value, so the construction can change without guessing.
const valueVersion byte = 1

const nonceSize = 12

// Overhead is what sealing adds to a value: version, nonce and tag.
const Overhead = 1 + nonceSize + 16

// ErrOpen means a sealed value does not open under this key and associated data: it was damaged,
// moved to another key, or sealed with another data key.
var ErrOpen = errors.New("sealed value does not open")

// Key is a data key. Its zero value is not usable; a nil *Key passes values through (a plain dir).
type Key struct {
	aead cipher.AEAD
	mac  []byte // HMAC subkey for Hash, never the encryption key itself
}

// NewKey makes a Key from KeySize random bytes. The encryption key and the hashing subkey are
// derived from them with HKDF, so neither use can leak the other.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(raw), KeySize)
	}
	enc, err := hkdf.Key(sha256.New, raw, nil, "fedarms data key: values", KeySize)
	if err != nil {
		return nil, err
	}
	mac, err := hkdf.Key(sha256.New, raw, nil, "fedarms data key: lookup keys", KeySize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead, mac: mac}, nil
}

// Encrypted reports whether k seals anything (false for the nil Key of a plain dir).
func (k *Key) Encrypted() bool { return k != nil }

// Seal appends the sealed form of plain to dst: version | nonce | AES-256-GCM(plain, ad). ad
// names where the value is stored (AD builds it), so it opens only there. A nil Key appends plain.
func (k *Key) Seal(dst, ad, plain []byte) []byte {
	if k == nil {
		return append(dst, plain...)
	}
	start := len(dst)
	dst = append(dst, valueVersion)
	dst = append(dst, make([]byte, nonceSize)...)
	nonce := dst[start+1 : start+1+nonceSize]
	_, _ = rand.Read(nonce) // crypto/rand never fails on a supported platform
	return k.aead.Seal(dst, nonce, plain, ad)
}

// Open returns the plain form of a value Seal made under the same ad, appended to dst (which may
// be nil; the result never aliases sealed). A nil Key returns sealed itself.
func (k *Key) Open(dst, ad, sealed []byte) ([]byte, error) {
	if k == nil {
		return sealed, nil
	}
	if len(sealed) < Overhead || sealed[0] != valueVersion {
		return nil, fmt.Errorf("%w: not a sealed value (%d bytes)", ErrOpen, len(sealed))
	}
	out, err := k.aead.Open(dst, sealed[1:1+nonceSize], sealed[1+nonceSize:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// Hash returns a keyed hash (HMAC-SHA-256 under the lookup subkey) of key in the space ad, for
// index keys that would otherwise reveal what they index. A nil Key returns key unchanged.
func (k *Key) Hash(ad, key []byte) []byte {
	if k == nil {
		return key
	}
	m := hmac.New(sha256.New, k.mac)
	m.Write(AD(ad))
	m.Write(key)
	return m.Sum(nil)
}

// AD joins parts into associated data without ambiguity (each part length-prefixed), so
// ("ab","c") and ("a","bc") differ.
func AD(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

// Generate returns KeySize fresh random bytes for a new data key.
func Generate() []byte {
	raw := make([]byte, KeySize)
	_, _ = rand.Read(raw)
	return raw
}
