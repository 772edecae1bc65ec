package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// A fed holder holding part of a copy from one source, that source away, resumes it from the next
// (request kind FeedCopyResume, feed_resume_wire.go): it sums the records it holds whole, the
// source sends what differs, in chunks, into a second partial file under
// <shard dir>/feed-partial/elsewhere/ (the partial file's format, sealed likewise), and the holder
// builds the source's state from both, verified against the source's checkpoint as any copy.

// defaultCopyResumeWait is how long after the last chunk from the source a copy held in part began
// with another source answering resumes it (HolderConfig.CopyResumeWait).
const defaultCopyResumeWait = 20 * time.Second

// errStartAgain: what is held of a copy cannot be resumed from this source; a new copy is begun.
var errStartAgain = errors.New("the copy starts again")

func elsewhereDir(dir string) string { return filepath.Join(dir, partialCopyDir, "elsewhere") }

// copyElsewhere resumes from src the copy held in part (base) from another source: as what differs
// from the records held, or the diff already held in part from src. It closes base. errStartAgain
// when base cannot be used (nothing whole held, src of a release before FeedCopyResume and the
// first source away long enough): a new copy is then taken from src.
func (h *Holder) copyElsewhere(ctx context.Context, src string, base *copyPartial) error {
	base.close()
	ddir := elsewhereDir(h.cfg.Dir)
	d := openCopyPartial(ddir, h.cfg.Shard, h.cfg.Key)
	owner, last := base.source, base.last
	if d != nil {
		owner, last = d.source, d.last
	}
	if d == nil || d.source != src {
		if time.Since(last) < h.cfg.CopyResumeWait && !h.isDropped(owner) {
			if d != nil {
				d.close()
			}
			return fmt.Errorf("%w (%s)", errCopyElsewhere, owner)
		}
		if d != nil {
			d.remove(ddir)
			d = nil
		}
	}
	q := FeedRequest{Kind: FeedCopyResume, Shard: h.cfg.Shard}
	summed := func() error {
		rs, err := heldSummary(base)
		if err != nil {
			return err
		}
		if rs == nil {
			h.log.Info("feed copy held holds no whole record; starting again", "source", src, "held_from", base.source)
			base.remove(h.cfg.Dir)
			return errStartAgain
		}
		q.summary = rs
		return nil
	}
	if d != nil {
		q.Resume = d.resume()
	} else if err := summed(); err != nil {
		return err
	}
	wire := &countedDial{dial: h.cfg.Dial}
	c, err := ask(ctx, wire.Dial, src, q)
	var fe *FeedError
	if d != nil && errors.As(err, &fe) && fe.Status == feedNoSession {
		h.log.Info("feed copy's diff cannot be resumed here; asking again", "source", src, "held", d.held, "reason", fe.Message)
		d.remove(ddir)
		d, q.Resume = nil, CopyResume{}
		if err := summed(); err != nil {
			return err
		}
		c, err = ask(ctx, wire.Dial, src, q)
	}
	if errors.As(err, &fe) && fe.Status == feedBadRequest {
		// A source of a release before FeedCopyResume: as that release did, the first source is
		// waited for copyPrefer, then the copy starts again from this one.
		if d != nil {
			d.remove(ddir)
		}
		if time.Since(base.last) < copyPrefer && !h.isDropped(base.source) {
			return fmt.Errorf("%w (%s; %s cannot resume it)", errCopyElsewhere, base.source, src)
		}
		base.remove(h.cfg.Dir)
		return errStartAgain
	}
	if err != nil {
		if d != nil {
			d.close()
		}
		return err
	}
	defer c.close()
	if d == nil {
		h.log.Info("feed copy resumed from another source", "source", src, "held_from", base.source,
			"held_bytes", base.held, "ranges", len(q.summary), "summary_bytes", len(appendSummary(nil, q.summary)))
	}
	d, resumed, err := h.receiveCopy(ctx, c, wire, src, ddir, d)
	if err == nil {
		err = h.takeDiff(base, d, src, resumed, wire)
	}
	var re *refusal
	if errors.As(err, &re) {
		// The source is dropped; the next copy is a whole one, from another source.
		_ = removeCopyPartials(h.cfg.Dir)
	}
	return err
}

// takeDiff builds the source's state from the records held (base) and the diff (d, whole), loads
// it with the entries after it, verified against the diff's checkpoint, and swaps it in. Both
// partial files are removed either way.
func (h *Holder) takeDiff(base, d *copyPartial, src string, resumed uint64, wire *countedDial) error {
	defer removeCopyPartials(h.cfg.Dir)
	body, cp, entries, err := h.partialHead(d)
	if err != nil {
		return err
	}
	defer body.Close()
	dh, err := readDiffHeader(body.Reader)
	if err != nil {
		return refused("malformed copy: %v", err)
	}
	rs, err := heldSummary(base)
	if err != nil {
		return err
	}
	if rs == nil || dh.ranges != uint64(len(rs)) || dh.asked != summaryHash(rs) {
		return refused("copy: a diff of another summary than the one asked (%d ranges)", dh.ranges)
	}
	held, err := openHeldRecords(base)
	if err != nil || held == nil {
		return fmt.Errorf("copy held from %s: %v", base.source, err)
	}
	defer held.close()
	pr, pw := io.Pipe()
	var kept, sent uint64
	var asmErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		kept, sent, asmErr = assembleDiff(pw, held, rs, body.Reader, dh)
		pw.CloseWithError(asmErr)
	}()
	tmp := h.state.Path() + ".feed"
	st, err := loadVerified(tmp, h.cfg.Key, h.cfg.noSync, h.cfg.decode, bufio.NewReaderSize(pr, 1<<16), cp, entries)
	pr.CloseWithError(io.ErrClosedPipe) // the builder stops if the load stopped early
	<-done
	if err != nil {
		_ = removeIfExists(tmp)
		switch {
		case errors.Is(asmErr, errHeldChanged):
			return asmErr
		case asmErr != nil && !errors.Is(asmErr, io.ErrClosedPipe):
			// The diff did not add up (the loader saw only a stream cut short).
			return refused("malformed copy: %v", asmErr)
		}
		var re *refusal
		if !errors.As(err, &re) && cut(err) {
			// Bytes held on disk that end early were cut by nothing on the link: the diff is bad.
			return refused("copy: %v", err)
		}
		return err
	}
	if err := h.takeVerified(tmp, st, cp.Index); err != nil {
		return err
	}
	// The same line as a copy in chunks (the drill reads it), with what was kept of the records
	// held from the first source and what this source sent.
	h.log.Info("feed copy received", "source", src, "index", cp.Index, "records", st.Records,
		"size", d.total, "resumed", resumed, "sent", wire.n.Load(), "asked", wire.w.Load(),
		"held_from", base.source, "kept_records", kept, "sent_records", sent)
	return nil
}
