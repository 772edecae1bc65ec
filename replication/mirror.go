package replication

import (
	"encoding/binary"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// stateMirror is an in-memory copy of the state's meta bucket, so stats are read without a
// transaction on every search.
type stateMirror struct {
	mu sync.Mutex // guards st
	st Stats
}

func (m *stateMirror) get() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

func (m *stateMirror) set(st Stats) {
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
}

func (m *stateMirror) load(b *bolt.Bucket) {
	var st Stats
	u := func(k []byte) uint64 {
		if v := b.Get(k); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
		return 0
	}
	st.AppliedIndex, st.AppliedTerm, st.Records = u(keyApplied), u(keyTerm), u(keyCount)
	if v := b.Get(keyDigest); len(v) == 32 {
		for i := range st.Digest {
			st.Digest[i] = binary.BigEndian.Uint64(v[i*8:])
		}
	}
	m.set(st)
}
