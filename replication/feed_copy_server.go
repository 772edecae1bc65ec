package replication

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A source keeps each copy in chunks it began as a session: the body written once to a spool file
// next to the state (the partial file's format, feed_copy_partial.go, sealed on an encrypted data
// dir), so that the asker, cut off part way, gets the same bytes again from where it stopped,
// while the state goes on (a read transaction held for minutes would keep the state from being
// swapped or closed). A session ends copySessionIdle after its last stream ended, its spool
// removed; a source holds at most maxCopySessions, one per member and shard (a member that begins
// another copy of the shard ends its first): the disk it takes is at most that many copies.
const (
	copySessionIdle = 10 * time.Minute
	maxCopySessions = 8
)

// copySession is one copy a source is sending or keeps to resume.
type copySession struct {
	id          uint64
	kind        byte // the request kind that began it: resumed only under its own
	shard, peer string
	spool       *copyPartial // the body, whole
	dir         string       // the spool's directory (as a partial file's holder dir)
	total       uint64

	mu       sync.Mutex // held by the stream writing the copy: one stream per copy
	stopMu   sync.Mutex // guards the fields below
	stopPrev func()     // ends the stream that holds mu
	used     time.Time
	released bool
	timer    *time.Timer
}

// writeBody writes the copy's body from its spool: what a FeedCopy answer carries, whole.
func (c *copySession) writeBody(w io.Writer) error {
	r, err := c.spool.body()
	if err != nil {
		return err
	}
	defer r.(io.Closer).Close()
	_, err = io.Copy(w, r)
	return err
}

// copySessions are the sessions of a FeedServer.
type copySessions struct {
	mu sync.Mutex
	m  map[uint64]*copySession
}

// add keeps c, ending the same member's earlier copy of the shard and, over maxCopySessions, the
// one least recently used that no stream is sending.
func (s *copySessions) add(c *copySession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[uint64]*copySession{}
	}
	var oldest *copySession
	for _, o := range s.m {
		if o.peer == c.peer && o.shard == c.shard {
			s.endLocked(o)
			continue
		}
		if o.mu.TryLock() {
			o.mu.Unlock()
			if oldest == nil || o.lastUsed().Before(oldest.lastUsed()) {
				oldest = o
			}
		}
	}
	if len(s.m) >= maxCopySessions {
		if oldest == nil {
			return &FeedError{Status: feedUnavailable, Message: "too many copies in flight"}
		}
		s.endLocked(oldest)
	}
	s.m[c.id] = c
	c.touch(s)
	return nil
}

func (s *copySessions) get(id uint64) *copySession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

// end releases c's read transaction once no stream sends it.
func (s *copySessions) end(c *copySession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[c.id] == c {
		s.endLocked(c)
	}
}

func (s *copySessions) endLocked(c *copySession) {
	delete(s.m, c.id)
	c.stopMu.Lock()
	c.released = true
	if c.timer != nil {
		c.timer.Stop()
	}
	stop := c.stopPrev
	c.stopMu.Unlock()
	if stop != nil {
		stop()
	}
	go func() { // after the stream sending it, if any, lets go
		c.mu.Lock()
		defer c.mu.Unlock()
		_ = os.RemoveAll(c.dir)
	}()
}

func (c *copySession) lastUsed() time.Time {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	return c.used
}

// touch restarts the session's idle time.
func (c *copySession) touch(s *copySessions) {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	c.used = time.Now()
	if c.released {
		return
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(copySessionIdle, func() { s.end(c) })
		return
	}
	c.timer.Reset(copySessionIdle)
}

// acquire ends the stream sending the session now (an asker that comes back has given that one up)
// and takes the session for stop's stream; false if the session ended meanwhile.
func (c *copySession) acquire(stop func()) bool {
	c.stopMu.Lock()
	prev := c.stopPrev
	c.stopMu.Unlock()
	if prev != nil {
		prev()
	}
	c.mu.Lock()
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	if c.released {
		c.mu.Unlock()
		return false
	}
	c.stopPrev = stop
	return true
}

func (c *copySession) releaseStream(s *copySessions) {
	c.stopMu.Lock()
	c.stopPrev = nil
	c.stopMu.Unlock()
	c.mu.Unlock()
	c.touch(s)
}

func newCopyID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// serveCopy answers a FeedCopyChunks or FeedCopyResume request: a new copy (for FeedCopyResume,
// what differs from the records the asker holds), or one resumed at the asker's offset.
func (s *FeedServer) serveCopy(ctx context.Context, rw io.ReadWriter, peer string, q FeedRequest, o feedOrigin) error {
	var c *copySession
	if q.Resume.Session != 0 {
		c = s.copies.get(q.Resume.Session)
		if c == nil || c.peer != peer || c.shard != q.Shard || c.kind != q.Kind || q.Resume.Offset > c.total {
			return writeFeedStatus(rw, feedNoSession, "no such copy here")
		}
	} else {
		cp, entries, snap, err := o.feedCopy(ctx, q)
		if err != nil {
			return s.answerError(rw, peer, q, err)
		}
		sp, ok := o.(copySpooler)
		if !ok {
			snap.Release()
			return writeFeedStatus(rw, feedBadRequest, "no copies in chunks here")
		}
		id := newCopyID()
		base, key := sp.copySpool()
		s.copies.sweep(filepath.Join(base, "feed-serve"))
		dir := filepath.Join(base, "feed-serve", fmt.Sprintf("%016x", id))
		write := snap.write
		if q.Kind == FeedCopyResume {
			write = func(w io.Writer) error { return snap.writeDiff(w, q.summary) }
		}
		spool, err := spoolCopy(dir, q.Shard, key, id, &cp, entries, write)
		snap.Release()
		if err != nil {
			_ = os.RemoveAll(dir)
			return s.answerError(rw, peer, q, err)
		}
		c = &copySession{id: id, kind: q.Kind, shard: q.Shard, peer: peer, spool: spool, dir: dir, total: spool.total}
		if err := s.copies.add(c); err != nil {
			_ = os.RemoveAll(dir)
			return s.answerError(rw, peer, q, err)
		}
		s.log.Info("feed copy begun", "peer", peer, "shard", q.Shard, "index", cp.Index, "bytes", c.total,
			"held_ranges", len(q.summary))
	}
	stop := func() { // a reset ends a write blocked on a dead connection; a close may wait for it
		if r, ok := rw.(interface{ Reset() error }); ok {
			_ = r.Reset()
		} else if cl, ok := rw.(io.Closer); ok {
			_ = cl.Close()
		}
	}
	if !c.acquire(stop) {
		return writeFeedStatus(rw, feedNoSession, "copy ended here")
	}
	defer c.releaseStream(&s.copies)
	if off := q.Resume.Offset; off > 0 {
		// The asker's bytes must be this copy's, or what it holds and what follows would not be one
		// body.
		h := sha256.New()
		if err := c.writeBody(&prefixHasher{h: h, n: off}); !errors.Is(err, errPrefixRead) {
			return writeFeedStatus(rw, feedNoSession, "copy cannot be read again")
		}
		if !bytes.Equal(h.Sum(nil), q.Resume.Prefix[:]) {
			s.log.Warn("feed copy not resumed: the asker's bytes differ", "peer", peer, "shard", q.Shard, "offset", off)
			return writeFeedStatus(rw, feedNoSession, "held bytes differ")
		}
		s.log.Info("feed copy resumed", "peer", peer, "shard", q.Shard, "offset", off, "bytes", c.total)
	}
	return s.answerBody(rw, peer, func(w io.Writer) error {
		if _, err := w.Write(copyHeader{session: c.id, total: c.total, offset: q.Resume.Offset}.appendWire(nil)); err != nil {
			return err
		}
		cw := &chunkWriter{w: w, skip: q.Resume.Offset, buf: make([]byte, 0, copyChunk)}
		if err := c.writeBody(cw); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		return cw.flush()
	})
}
