package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A snapshot a leader takes again at a later index (a holder away, a configuration change) has
// another name, but mostly the same chunks: the receiver offers the chunks of the group's newest
// other partial file, the seed, and copies those the sender skips into the new file.

// openSeed opens the newest other partial file of id's group that holds chunks, for its chunks;
// nil when there is none (or it is in use, or cannot be trusted).
func (s *SnapshotPartials) openSeed(id snapshotID, name string) (*partialFile, [][32]byte) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil
	}
	var best string
	var bestMod int64
	for _, e := range ents {
		n := e.Name()
		if n == name || !strings.HasSuffix(n, ".part") || !strings.HasPrefix(n, id.groupPrefix()+"-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().UnixNano() > bestMod {
			best, bestMod = n, info.ModTime().UnixNano()
		}
	}
	if best == "" {
		return nil, nil
	}
	s.mu.Lock()
	if s.inUse[best] {
		s.mu.Unlock()
		return nil, nil
	}
	s.inUse[best] = true
	s.mu.Unlock()
	f, err := os.Open(filepath.Join(s.dir, best))
	if err != nil {
		s.release(best)
		return nil, nil
	}
	sid, base, err := readPartialHeader(f, s.sealer != nil)
	if err != nil || sid.group != id.group || sid.name() != best {
		f.Close()
		s.release(best)
		return nil, nil
	}
	seed := &partialFile{s: s, id: sid, f: f, base: base}
	held, err := seed.held(sid.header(s.sealer != nil))
	if err != nil || len(held) == 0 {
		seed.close(err != nil)
		return nil, nil
	}
	// Offer no more chunks than the new snapshot has: a receiver never claims more.
	return seed, held[:min(len(held), id.chunks())]
}

// readPartialHeader reads the snapshot a partial file names, and its header's length.
// sealed says which kind of file this node writes; the other kind is not read.
func readPartialHeader(f *os.File, sealed bool) (snapshotID, int64, error) {
	r := bufio.NewReader(io.NewSectionReader(f, 0, 4<<10))
	var id snapshotID
	want := partialMagic
	if sealed {
		want = partialSealedMagic
	}
	magic := make([]byte, len(want))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != want {
		return id, 0, errors.New("not a partial snapshot")
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n == 0 || n > 255 {
		return id, 0, errors.New("bad group in a partial snapshot")
	}
	group := make([]byte, n)
	if _, err := io.ReadFull(r, group); err != nil {
		return id, 0, err
	}
	id.group = string(group)
	var fields [4]uint64
	for i := range fields {
		if fields[i], err = binary.ReadUvarint(r); err != nil {
			return id, 0, err
		}
	}
	if fields[3] != resumeChunk || fields[2] == 0 || fields[2] > 1<<62 {
		return id, 0, errors.New("partial snapshot of another chunk size or no size")
	}
	id.term, id.index, id.size = fields[0], fields[1], int64(fields[2])
	if _, err := io.ReadFull(r, id.hash0[:]); err != nil {
		return id, 0, err
	}
	return id, int64(len(id.header(sealed))), nil
}

// readHeld reads chunk i the answer offered, into buf, checked against want: from this file, or
// from the seed, in which case it is also written to this file, so the file holds what raft got.
func (p *partialFile) readHeld(i int, buf []byte, want [32]byte) error {
	src := p
	if p.seed != nil {
		src = p.seed
		if i >= src.id.chunks() || src.id.chunkLen(i) != p.id.chunkLen(i) {
			return fmt.Errorf("chunk %d: not in the seed", i)
		}
	}
	sum, err := src.readChunk(i, buf)
	if err == nil && sum != want {
		err = errPartialCorrupt
	}
	if err != nil {
		return err
	}
	if p.seed != nil {
		return p.writeChunk(i, buf[:p.id.chunkLen(i)])
	}
	return nil
}
