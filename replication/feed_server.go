package replication

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/fedarms/fedarms/internal/seal"
)

// feedOrigin is a copy of a shard that answers feed requests: a member of its raft group
// (feed_group.go) or a fed holder (feed_holder.go). Errors that are answers are *FeedError.
type feedOrigin interface {
	feedEntries(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, error)
	feedCheckpoint(ctx context.Context, q FeedRequest) (Checkpoint, error)
	// feedCopy returns a snapshot of the state, the entries after it up to the checkpoint, and
	// the checkpoint; the caller releases the snapshot.
	feedCopy(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, *stateSnapshot, error)
}

// copySpooler is an origin that serves copies in chunks: where they are spooled (the state's
// directory) and their key at rest.
type copySpooler interface {
	copySpool() (dir string, key *seal.Key)
}

// FeedServer answers the feed protocol for the shards this node holds.
type FeedServer struct {
	mu      sync.RWMutex // guards origins
	origins map[string]feedOrigin
	log     *slog.Logger
	// may says whether peer may be fed shard (AllowOnly); nil: anyone who reached the server.
	may func(peer, shard string) bool
	// copies are the copies in chunks begun here, kept to resume (feed_copy_server.go).
	copies copySessions
	// meter, when set, wraps the stream once the request names its shard, so the bytes served
	// count per shard and peer (MeterWith).
	meter func(shard, peer string, rw io.ReadWriter) io.ReadWriter
	// maxKind, when set, is the highest request kind read: tests stand for a release before a
	// kind with it.
	maxKind byte
}

// MeterWith makes the server count what it serves: once a request has named its shard, the stream
// is replaced by wrap(shard, peer, stream) for the answer. Call it before the first Serve.
func (s *FeedServer) MeterWith(wrap func(shard, peer string, rw io.ReadWriter) io.ReadWriter) {
	s.meter = wrap
}

// AllowOnly makes the server answer a request only when may(peer, shard) says yes, peer being the
// name Serve is given: a member that does not hold a shard must not read it whole through the
// feed. Call it before the first Serve. A refused request is answered as a shard not served
// here, so it tells nothing of what this node holds.
func (s *FeedServer) AllowOnly(may func(peer, shard string) bool) { s.may = may }

// NewFeedServer returns a server with no shard yet.
func NewFeedServer(log *slog.Logger) *FeedServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FeedServer{origins: map[string]feedOrigin{}, log: log.With("subsystem", "feed")}
}

func (s *FeedServer) set(shard string, o feedOrigin) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o == nil {
		delete(s.origins, shard)
		return
	}
	s.origins[shard] = o
}

// Remove stops serving a shard.
func (s *FeedServer) Remove(shard string) { s.set(shard, nil) }

// ServeHolder serves a fed holder's shard from what it applied and kept.
func (s *FeedServer) ServeHolder(h *Holder) { s.set(h.Shard(), h) }

// Serve answers one request read from rw; peer names the asker in logs. The caller bounds the
// stream with deadlines; nothing the peer sends can make this panic or allocate past the
// protocol's bounds.
func (s *FeedServer) Serve(ctx context.Context, rw io.ReadWriter, peer string) error {
	br := bufio.NewReaderSize(io.LimitReader(rw, 1024), 256)
	q, err := readFeedRequest(br)
	if err == nil && s.maxKind != 0 && q.Kind > s.maxKind {
		err = fmt.Errorf("feed request: kind %d", q.Kind)
	}
	if err == nil && q.Kind == FeedCopyResume {
		// The summary follows, past the 1 KiB of the request's fields: read from what the
		// request's reader holds and then the stream, within the summary's own bound.
		held, _ := br.Peek(br.Buffered())
		rest := io.MultiReader(bytes.NewReader(held), io.LimitReader(rw, maxResumeSummary+binary.MaxVarintLen64))
		q.summary, err = readSummary(bufio.NewReaderSize(rest, 1<<16), summaryDeadline(rw))
		if err == nil && q.summary == nil && q.Resume.Session == 0 {
			err = errors.New("feed request: a copy to resume with no summary")
		}
	}
	if err != nil {
		_ = writeFeedStatus(rw, feedBadRequest, "bad request")
		return err
	}
	if s.may != nil && !s.may(peer, q.Shard) {
		s.log.Warn("feed request refused: the member does not hold the shard", "peer", peer, "shard", q.Shard)
		return writeFeedStatus(rw, feedUnknown, "shard not served here")
	}
	s.mu.RLock()
	o := s.origins[q.Shard]
	s.mu.RUnlock()
	if o == nil {
		return writeFeedStatus(rw, feedUnknown, "shard not served here")
	}
	if s.meter != nil {
		rw = s.meter(q.Shard, peer, rw)
	}
	if q.MaxEntries == 0 {
		q.MaxEntries = 256
	}
	if q.MaxBytes == 0 {
		q.MaxBytes = defaultFeedBytes
	}
	var body func(w io.Writer) error
	switch q.Kind {
	case FeedEntries:
		cp, entries, err := o.feedEntries(ctx, q)
		if err != nil {
			return s.answerError(rw, peer, q, err)
		}
		body = func(w io.Writer) error { _, err := w.Write(appendFeedEntries(nil, &cp, entries)); return err }
	case FeedCheckpoint:
		cp, err := o.feedCheckpoint(ctx, q)
		if err != nil {
			return s.answerError(rw, peer, q, err)
		}
		body = func(w io.Writer) error { _, err := w.Write(cp.appendWire(nil)); return err }
	case FeedCopyChunks, FeedCopyResume:
		return s.serveCopy(ctx, rw, peer, q, o)
	case FeedCopy:
		cp, entries, snap, err := o.feedCopy(ctx, q)
		if err != nil {
			return s.answerError(rw, peer, q, err)
		}
		defer snap.Release()
		body = func(w io.Writer) error {
			if _, err := w.Write(appendFeedEntries(nil, &cp, entries)); err != nil {
				return err
			}
			return snap.write(w)
		}
	}
	return s.answerBody(rw, peer, body)
}

// answerBody answers OK with body, compressed.
func (s *FeedServer) answerBody(rw io.Writer, peer string, body func(w io.Writer) error) error {
	if _, err := rw.Write([]byte{feedVersion, feedOK}); err != nil {
		return err
	}
	zw, err := feedEncoder()
	if err != nil {
		return err
	}
	defer feedEncoders.Put(zw)
	zw.Reset(rw)
	if err := body(zw); err != nil {
		zw.Close()
		return fmt.Errorf("feed answer to %s: %w", peer, err)
	}
	return zw.Close()
}

// feedWindow is the zstd window of feed answers; readers refuse larger ones.
const feedWindow = 4 << 20

// feedEncoders keeps encoders between answers: each holds its window, and a server answers every
// holder fed from it several times a minute.
var feedEncoders sync.Pool

func feedEncoder() (*zstd.Encoder, error) {
	if e, ok := feedEncoders.Get().(*zstd.Encoder); ok {
		return e, nil
	}
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(feedWindow))
}

func (s *FeedServer) answerError(w io.Writer, peer string, q FeedRequest, err error) error {
	var fe *FeedError
	if errors.As(err, &fe) {
		return writeFeedStatus(w, fe.Status, fe.Message)
	}
	s.log.Warn("feed request failed", "peer", peer, "shard", q.Shard, "kind", q.Kind, "after", q.After, "error", err)
	return writeFeedStatus(w, feedUnavailable, "cannot answer now")
}

func writeFeedStatus(w io.Writer, status byte, msg string) error {
	if len(msg) > maxFeedMessage {
		msg = msg[:maxFeedMessage]
	}
	_, err := w.Write(appendFeedString([]byte{feedVersion, status}, msg))
	return err
}

// waitFor waits until applied() is past after, at most d; it reports whether it is.
func waitFor(ctx context.Context, d time.Duration, after uint64, applied func() uint64, changed func() <-chan struct{}) bool {
	if applied() > after {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return applied() > after
		case <-t.C:
			return applied() > after
		case <-changed():
			if applied() > after {
				return true
			}
		}
	}
}
