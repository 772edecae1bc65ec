package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// copyPrefer is how long after its last chunk arrived a copy held in part is resumed only from the
// source that sent it when the other source answering is of a release before FeedCopyResume: it
// cannot send what differs, so asking it would throw away what was held. Past it, the copy starts
// again from that source.
const copyPrefer = 2 * time.Minute

// errCopyElsewhere: this holder waits for the source it holds part of a copy from.
var errCopyElsewhere = errors.New("part of a copy is held from another source")

// takeCopy replaces this copy by src's state: in chunks, resuming a copy held in part, or whole
// from a source of a release before copies in chunks.
func (h *Holder) takeCopy(ctx context.Context, src string) error {
	err := h.copyChunks(ctx, src)
	var fe *FeedError
	if errors.As(err, &fe) && fe.Status == feedBadRequest {
		return h.copyFrom(ctx, src)
	}
	return err
}

// copyChunks takes a copy in chunks from src into the partial file, then verifies it against its
// checkpoint and swaps it in. Part of a copy held from another source is resumed from src as what
// differs (copyElsewhere), once that source has been away for CopyResumeWait.
func (h *Holder) copyChunks(ctx context.Context, src string) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CopyTimeout)
	defer cancel()
	p := openCopyPartial(h.cfg.Dir, h.cfg.Shard, h.cfg.Key)
	if p != nil && p.source != src {
		err := h.copyElsewhere(ctx, src, p)
		if !errors.Is(err, errStartAgain) {
			return err
		}
		p = nil
	}
	q := FeedRequest{Kind: FeedCopyChunks, Shard: h.cfg.Shard}
	if p != nil {
		q.Resume = p.resume()
		// A diff begun meanwhile from another source is of the records held before this resume.
		_ = os.RemoveAll(elsewhereDir(h.cfg.Dir))
	}
	wire := &countedDial{dial: h.cfg.Dial}
	c, err := ask(ctx, wire.Dial, src, q)
	var fe *FeedError
	if p != nil && errors.As(err, &fe) && fe.Status == feedNoSession {
		h.log.Info("feed copy cannot be resumed here; starting again", "source", src, "held", p.held, "reason", fe.Message)
		p.remove(h.cfg.Dir)
		p, q.Resume = nil, CopyResume{}
		c, err = ask(ctx, wire.Dial, src, q)
	}
	if err != nil {
		if p != nil {
			p.close()
		}
		return err
	}
	defer c.close()
	p, resumed, err := h.receiveCopy(ctx, c, wire, src, h.cfg.Dir, p)
	if err != nil {
		return err
	}
	return h.takePartial(p, src, resumed, wire.n.Load())
}

// receiveCopy reads a copy answer's header and chunks into p (nil: a new partial file under dir),
// until it holds the whole body; resumed is what p held before. p is closed when it returns.
func (h *Holder) receiveCopy(ctx context.Context, c *feedCall, wire *countedDial, src, dir string, p *copyPartial) (*copyPartial, uint64, error) {
	hdr, err := readCopyHeader(c.body)
	if err == nil && p != nil && (hdr.session != p.session || hdr.total != p.total || hdr.offset != p.held) {
		err = fmt.Errorf("copy resumed as session %x at %d of %d, asked %x at %d of %d", hdr.session, hdr.offset, hdr.total,
			p.session, p.held, p.total)
	}
	if err == nil && p == nil && hdr.offset != 0 {
		err = fmt.Errorf("new copy begins at %d", hdr.offset)
	}
	if err != nil {
		if p != nil {
			p.close()
		}
		if cut(err) || ctx.Err() != nil {
			return nil, 0, err
		}
		return nil, 0, refused("malformed copy: %v", err)
	}
	held := uint64(0)
	if p != nil {
		held = p.held
	}
	if err := copyFits(h.cfg.Dir, hdr.total, held); err != nil {
		// Not the source's fault on its face (a shard may outgrow a small disk): skipped, not dropped.
		if p != nil {
			p.close()
		}
		h.log.Warn("feed copy not taken", "source", src, "error", err)
		return nil, 0, err
	}
	if p == nil {
		if p, err = createCopyPartial(dir, h.cfg.Shard, h.cfg.Key, src, hdr.session, hdr.total); err != nil {
			return nil, 0, err
		}
		h.log.Info("feed copy begun", "source", src, "size", hdr.total)
	}
	resumed := p.held
	if err := h.receiveChunks(ctx, c.body, p, dir); err != nil {
		if cut(err) || ctx.Err() != nil {
			h.log.Info("feed copy cut; it resumes from what is held", "source", src, "size", p.total,
				"resumed", resumed, "held", p.held, "sent", wire.n.Load(), "error", err)
		}
		return nil, 0, err
	}
	return p, resumed, nil
}

// receiveChunks reads chunks into the partial file until it holds the whole body, checking the
// checkpoint as soon as the bytes hold it: a source that is not sending what a central voter signed
// is dropped without waiting for the whole copy. The partial file is closed when it returns.
func (h *Holder) receiveChunks(ctx context.Context, body *bufio.Reader, p *copyPartial, dir string) error {
	buf := make([]byte, copyChunk)
	checked := false
	for p.held < p.total {
		data, err := readCopyChunk(body, int(min(p.total-p.held, copyChunk)), buf)
		if err != nil {
			p.close()
			if cut(err) || ctx.Err() != nil {
				return err
			}
			p.remove(dir)
			return refused("copy chunk: %v", err)
		}
		if err := p.append(data); err != nil {
			p.close()
			return err
		}
		if !checked {
			ok, err := h.partialCheckpoint(p)
			if err != nil {
				p.remove(dir)
				return err
			}
			checked = ok
		}
	}
	p.close()
	return nil
}

// partialCheckpoint checks the checkpoint a partial body opens with once it is held whole; false
// while it is not yet.
func (h *Holder) partialCheckpoint(p *copyPartial) (bool, error) {
	r, err := p.body()
	if err != nil {
		return false, err
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	cp, err := readCheckpoint(bufio.NewReaderSize(r, 4096))
	if err != nil {
		if cut(err) && p.held < p.total {
			return false, nil
		}
		return false, refused("copy: %v", err)
	}
	if err := checkCheckpoint(&cp, h.cfg.Shard, h.cfg.Verify); err != nil {
		return false, refused("%v", err)
	}
	return true, nil
}

// takePartial loads a whole body from the partial file, verified against its checkpoint as a copy
// is, and swaps it in. The partial file is removed either way: what failed here is the body, not
// the link.
func (h *Holder) takePartial(p *copyPartial, src string, resumed uint64, wire int64) error {
	defer p.remove(h.cfg.Dir)
	body, cp, entries, err := h.partialHead(p)
	if err != nil {
		return err
	}
	defer body.Close()
	tmp := h.state.Path() + ".feed"
	st, err := loadVerified(tmp, h.cfg.Key, h.cfg.noSync, h.cfg.decode, body.Reader, cp, entries)
	if err != nil {
		_ = removeIfExists(tmp)
		var re *refusal
		if !errors.As(err, &re) && cut(err) {
			// Bytes held on disk that end early were cut by nothing on the link: the copy is bad.
			return refused("copy: %v", err)
		}
		return err
	}
	p.remove(h.cfg.Dir) // the copy is whole in tmp: no cut can need the partial file any more
	if err := h.takeVerified(tmp, st, cp.Index); err != nil {
		return err
	}
	// The drill (scripts/drills/thinlink*) reads this line: size is the body, resumed what was held
	// before this stream, sent the bytes this stream carried (compressed, as on the wire).
	h.log.Info("feed copy received", "source", src, "index", cp.Index, "records", st.Records,
		"size", p.total, "resumed", resumed, "sent", wire)
	return nil
}

// partialBodyReader is a whole body held in a partial file, read past its checkpoint and entries.
type partialBodyReader struct {
	*bufio.Reader
	io.Closer
}

// partialHead opens the whole body p holds and reads its checkpoint, checked against the roster,
// and the entries after the snapshot; the caller closes the body.
func (h *Holder) partialHead(p *copyPartial) (partialBodyReader, Checkpoint, []FeedEntry, error) {
	r, err := p.body()
	if err != nil {
		return partialBodyReader{}, Checkpoint{}, nil, err
	}
	body := partialBodyReader{Reader: bufio.NewReaderSize(r, 1<<16), Closer: r.(io.Closer)}
	cp, entries, err := readFeedEntries(body.Reader, 0, false)
	if err != nil {
		err = refused("malformed copy: %v", err)
	} else if err = checkCheckpoint(&cp, h.cfg.Shard, h.cfg.Verify); err != nil {
		err = refused("%v", err)
	}
	if err != nil {
		body.Close()
		return partialBodyReader{}, cp, nil, err
	}
	return body, cp, entries, nil
}

// countedDial counts the bytes read from (n) and written to (w) the streams it dials: a copy's
// bytes on the wire.
type countedDial struct {
	dial FeedDialer
	n, w atomic.Int64
}

func (d *countedDial) Dial(ctx context.Context, peer string) (io.ReadWriteCloser, error) {
	s, err := d.dial(ctx, peer)
	if err != nil {
		return nil, err
	}
	return countedStream{ReadWriteCloser: s, n: &d.n, w: &d.w}, nil
}

type countedStream struct {
	io.ReadWriteCloser
	n, w *atomic.Int64
}

func (s countedStream) Write(p []byte) (int, error) {
	n, err := s.ReadWriteCloser.Write(p)
	s.w.Add(int64(n))
	return n, err
}

func (s countedStream) Read(p []byte) (int, error) {
	n, err := s.ReadWriteCloser.Read(p)
	s.n.Add(int64(n))
	return n, err
}

func (h *Holder) isDropped(src string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, bad := h.dropped[src]
	return bad
}
