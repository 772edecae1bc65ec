package notify

import (
	"encoding/json"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/seal"
)

// In an encrypted data dir every value of this package that carries a hit, a trace, a decision or
// a webhook event is sealed with the node's data key, with its bucket and key as associated data.
// The stores reach node.db through many small functions over a transaction, so the key is found
// from the transaction's file: OpenSealed registers it for that *bolt.DB. Empty values (the
// indexes' keys-only entries) and counters stay as they are: they say nothing of a search.
//
// put and get are the one place values are sealed and opened.

// keys maps an open *bolt.DB to its data key (absent: a plain dir).
var keys sync.Map

func keyOf(tx *bolt.Tx) *seal.Key {
	if k, ok := keys.Load(tx.DB()); ok {
		return k.(*seal.Key)
	}
	return nil
}

// Forget drops the data key registered for db; call it when db is closed.
func Forget(db *bolt.DB) { keys.Delete(db) }

func valueAD(bucket, key []byte) []byte { return seal.AD([]byte("node.db"), bucket, key) }

// put stores v (JSON-encoded, then sealed) under key in bucket b named name.
func put(b *bolt.Bucket, name, key []byte, v any) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if k := keyOf(b.Tx()); k != nil {
		plain = k.Seal(nil, valueAD(name, key), plain)
	}
	return b.Put(key, plain)
}

// open returns the plain bytes of a value read from bucket name under key.
func open(tx *bolt.Tx, name, key, v []byte) ([]byte, error) {
	k := keyOf(tx)
	if k == nil || len(v) == 0 {
		return v, nil
	}
	p, err := k.Open(nil, valueAD(name, key), v)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", name, key, err)
	}
	return p, nil
}

// decode opens v (read from bucket name under key) and decodes it into out.
func decode(tx *bolt.Tx, name, key, v []byte, out any) error {
	p, err := open(tx, name, key, v)
	if err != nil {
		return err
	}
	return json.Unmarshal(p, out)
}

// sealedBuckets are the buckets whose values put seals.
var sealedBuckets = [][]byte{bucketHits, bucketDecisionOut, bucketFanout, bucketCarry, bucketTraces, bucketInboxDecisions, bucketWebhook}

// SealValue is how a plain node.db value under key in bucket is stored in an encrypted dir: sealed
// when the bucket is one this package seals (and the value is not empty), else as it is. It is
// for converting a plain data dir (fedarms storage encrypt).
func SealValue(k *seal.Key, bucket, key, v []byte) []byte {
	if k == nil || len(v) == 0 {
		return v
	}
	for _, b := range sealedBuckets {
		if string(b) == string(bucket) {
			return k.Seal(nil, valueAD(bucket, key), v)
		}
	}
	return v
}
