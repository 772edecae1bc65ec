package replication

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
)

// Snapshot stream format (version 1):
//
//	magic "FEDSNAP1" | uvarint applied index | uvarint applied term | uvarint record count
//	| count x (uvarint length | record binary, in id order) | 32-byte digest
//
// The stream is written from a read transaction, so it is a consistent copy while applies go on, and
// it is read back with bounded memory: Restore loads it in transactions of restoreBatch records.
var snapMagic = []byte("FEDSNAP1")

const restoreBatch = 20000

// stateSnapshot is a raft.FSMSnapshot over an open read transaction.
type stateSnapshot struct {
	tx  *bolt.Tx
	key *seal.Key // the records' at rest; the stream itself is plain
	st  Stats
}

func (s *State) snapshot() (*stateSnapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	var m stateMirror
	m.load(tx.Bucket(bucketMeta))
	return &stateSnapshot{tx: tx, key: s.key, st: m.get()}, nil
}

// Persist streams the records to the sink.
func (p *stateSnapshot) Persist(sink raft.SnapshotSink) error {
	err := p.write(sink)
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (p *stateSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := append([]byte(nil), snapMagic...)
	hdr = binary.AppendUvarint(hdr, p.st.AppliedIndex)
	hdr = binary.AppendUvarint(hdr, p.st.AppliedTerm)
	hdr = binary.AppendUvarint(hdr, p.st.Records)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	var n uint64
	var lenBuf []byte
	err := records{b: p.tx.Bucket(bucketRecords), key: p.key}.forEach(func(_, v []byte) error {
		lenBuf = binary.AppendUvarint(lenBuf[:0], uint64(len(v)))
		if _, err := bw.Write(lenBuf); err != nil {
			return err
		}
		_, err := bw.Write(v)
		n++
		return err
	})
	if err != nil {
		return err
	}
	if n != p.st.Records {
		return fmt.Errorf("state holds %d records but its meta says %d", n, p.st.Records)
	}
	var d [32]byte
	for i, v := range p.st.Digest {
		binary.BigEndian.PutUint64(d[i*8:], v)
	}
	if _, err := bw.Write(d[:]); err != nil {
		return err
	}
	return bw.Flush()
}

// Release ends the read transaction.
func (p *stateSnapshot) Release() { _ = p.tx.Rollback() }

// restoreFile loads a snapshot stream into a new state file at path+".restore", checks its count
// and digest, and returns that path for the caller to swap in.
func restoreFile(path string, key *seal.Key, r io.Reader) (string, Stats, error) {
	tmp := path + ".restore"
	if err := removeIfExists(tmp); err != nil {
		return "", Stats{}, err
	}
	ns, err := OpenSealedState(tmp, key)
	if err != nil {
		return "", Stats{}, err
	}
	st, err := ns.load(bufio.NewReaderSize(r, 1<<20))
	if cerr := ns.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", Stats{}, fmt.Errorf("restore snapshot: %w", err)
	}
	return tmp, st, nil
}

func (s *State) load(br *bufio.Reader) (Stats, error) {
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, snapMagic) {
		return Stats{}, errors.New("not a fedarms snapshot")
	}
	var want Stats
	var err error
	for _, p := range []*uint64{&want.AppliedIndex, &want.AppliedTerm, &want.Records} {
		if *p, err = binary.ReadUvarint(br); err != nil {
			return Stats{}, fmt.Errorf("snapshot header: %w", err)
		}
	}
	var got Stats
	var lt StateHash
	got.AppliedIndex, got.AppliedTerm = want.AppliedIndex, want.AppliedTerm
	buf := make([]byte, 0, 4096)
	var prev string
	for got.Records < want.Records {
		var mem arena
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := s.records(tx)
			b.b.FillPercent = 1.0 // ids arrive sorted
			for i := 0; i < restoreBatch && got.Records < want.Records; i++ {
				n, err := binary.ReadUvarint(br)
				if err != nil {
					return fmt.Errorf("record %d: %w", got.Records, err)
				}
				if n > 1<<20 {
					return fmt.Errorf("record %d: length %d too large", got.Records, n)
				}
				// Grow first: a valid record can be over the first buffer's 4 KiB.
				if cap(buf) < int(n) {
					buf = make([]byte, n)
				}
				buf = buf[:n]
				if _, err := io.ReadFull(br, buf); err != nil {
					return fmt.Errorf("record %d: %w", got.Records, err)
				}
				id, err := record.IDOf(buf)
				if err != nil {
					return fmt.Errorf("record %d: %w", got.Records, err)
				}
				// A snapshot lists each id once, in order (it is a read of the state's records
				// bucket); a repeated id would count twice but be stored once.
				if got.Records > 0 && id <= prev {
					return fmt.Errorf("record %d: id %q does not follow %q", got.Records, id, prev)
				}
				prev = id
				if err := b.put([]byte(id), buf, &mem); err != nil {
					return err
				}
				got.Digest.add(sha256.Sum256(buf), +1)
				lt.add([]byte(id), buf)
				got.Records++
			}
			return nil
		})
		if err != nil {
			return Stats{}, err
		}
	}
	var d [32]byte
	if _, err := io.ReadFull(br, d[:]); err != nil {
		return Stats{}, fmt.Errorf("snapshot trailer: %w", err)
	}
	var wantDigest Digest
	for i := range wantDigest {
		wantDigest[i] = binary.BigEndian.Uint64(d[i*8:])
	}
	if wantDigest != got.Digest {
		return Stats{}, fmt.Errorf("snapshot digest %s does not match its records (%s)", wantDigest, got.Digest)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return Stats{}, errors.New("snapshot trailer: data after the digest")
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := writeStateHash(tx.Bucket(bucketMeta), got.AppliedIndex, &lt); err != nil {
			return err
		}
		return writeMeta(tx.Bucket(bucketMeta), got)
	})
	if err != nil {
		return Stats{}, err
	}
	s.mirror.set(got)
	s.hash.reset(got.AppliedIndex, &lt)
	return got, nil
}
