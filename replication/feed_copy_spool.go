package replication

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fedarms/fedarms/internal/seal"
)

// A copy in chunks is spooled by its source (feed_copy_server.go): the body written once, in the
// partial file's format, under <state dir>/feed-serve/<session>/.

// spoolCopy writes a copy's body to a spool file under dir, in chunks: the checkpoint, the entries
// and what write writes of the snapshot (its stream, or a diff), which it is called twice to write
// the same (its size first).
func spoolCopy(dir, shard string, key *seal.Key, id uint64, cp *Checkpoint, entries []FeedEntry, write func(io.Writer) error) (*copyPartial, error) {
	var n byteCounter
	head := appendFeedEntries(nil, cp, entries)
	n.n = uint64(len(head))
	if err := write(&n); err != nil {
		return nil, err
	}
	p, err := createCopyPartial(dir, shard, key, "", id, n.n)
	if err != nil {
		return nil, err
	}
	w := &chunkWriter{w: spoolWriter{p}, buf: make([]byte, 0, copyChunk), raw: true}
	if _, err := w.Write(head); err == nil {
		if err = write(w); err == nil {
			err = w.flush()
		}
	}
	p.close()
	if err == nil && p.held != n.n {
		err = fmt.Errorf("copy spool holds %d of %d bytes", p.held, n.n)
	}
	if err != nil {
		p.remove(dir)
		return nil, fmt.Errorf("copy spool: %w", err)
	}
	return p, nil
}

// spoolWriter appends each chunk a raw chunkWriter writes to a spool.
type spoolWriter struct{ p *copyPartial }

func (s spoolWriter) Write(b []byte) (int, error) { return len(b), s.p.append(b) }

// sweep removes the spools under dir that no session holds and that are older than a session
// lives (a restart loses the sessions, not their files; a spool being written now is younger).
func (s *copySessions) sweep(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		id, err := strconv.ParseUint(e.Name(), 16, 64)
		if err == nil && s.m[id] != nil {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > copySessionIdle {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

func (o *groupOrigin) copySpool() (string, *seal.Key) {
	return filepath.Dir(o.g.state.Path()), o.g.state.key
}

func (h *Holder) copySpool() (string, *seal.Key) { return h.cfg.Dir, h.cfg.Key }
