package replication

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// FeedDialer opens a stream of the feed protocol to a member.
type FeedDialer func(ctx context.Context, peer string) (io.ReadWriteCloser, error)

// feedCall is one request in flight: its stream and the answer's body.
type feedCall struct {
	stream io.ReadWriteCloser
	dec    *zstd.Decoder
	body   *bufio.Reader
	stop   func() bool
}

func (c *feedCall) close() {
	c.stop()
	c.stream.Close()
	if c.dec != nil {
		// Reset drops the stream (and any goroutine reading it) before the decoder is reused.
		if c.dec.Reset(nil) == nil {
			feedDecoders.Put(c.dec)
		}
		c.dec = nil
	}
}

// feedDecoders keeps decoders between answers (each holds a window's worth of buffers).
var feedDecoders sync.Pool

func feedDecoder(r io.Reader) (*zstd.Decoder, error) {
	if d, ok := feedDecoders.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err == nil {
			return d, nil
		}
	}
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(feedWindow),
		zstd.WithDecoderMaxMemory(maxFeedBatch+feedWindow))
}

// ask sends q to peer and reads the answer's status: a *FeedError for anything but OK, else the
// call whose body holds the answer. The stream is closed when ctx ends, so a silent peer costs
// the caller its timeout, not a hang.
func ask(ctx context.Context, dial FeedDialer, peer string, q FeedRequest) (*feedCall, error) {
	req, err := q.MarshalBinary()
	if err != nil {
		return nil, err
	}
	s, err := dial(ctx, peer)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", peer, err)
	}
	c := &feedCall{stream: s, stop: context.AfterFunc(ctx, func() { s.Close() })}
	fail := func(err error) (*feedCall, error) {
		c.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("feed %s: %w", peer, ctx.Err())
		}
		return nil, fmt.Errorf("feed %s: %w", peer, err)
	}
	if q.Kind == FeedCopyResume {
		// The summary can be megabytes, and a source of a release before it answers at the
		// request's kind without reading on: the answer is read while the request is written (the
		// write ends with the stream at the latest).
		go func() { _, _ = s.Write(req) }()
	} else if _, err := s.Write(req); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(s, 4096)
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return fail(err)
	}
	if hdr[0] != feedVersion {
		return fail(fmt.Errorf("answer version %d", hdr[0]))
	}
	if hdr[1] != feedOK {
		msg, err := readFeedString(br, maxFeedMessage)
		if err != nil {
			return fail(err)
		}
		c.close()
		return nil, &FeedError{Status: hdr[1], Message: msg}
	}
	dec, err := feedDecoder(br)
	if err != nil {
		return fail(err)
	}
	c.dec = dec
	c.body = bufio.NewReaderSize(dec, 1<<16)
	return c, nil
}

// FetchCheckpoint asks central voters in turn for a checkpoint of shard in (after, limit], as a
// member that does not sign serves the feed (ServeGroup's fetch). Each is given timeout.
func FetchCheckpoint(dial FeedDialer, centrals func() []string, verify CheckpointVerifier, timeout time.Duration) CheckpointFetcher {
	return func(ctx context.Context, shard string, after, want, limit uint64) (Checkpoint, error) {
		err := ErrNoCheckpoint
		for _, peer := range centrals() {
			var cp Checkpoint
			cp, err = fetchCheckpointFrom(ctx, dial, peer, FeedRequest{Kind: FeedCheckpoint, Shard: shard, After: after, Want: want, Limit: limit}, timeout)
			if err == nil {
				err = checkCheckpoint(&cp, shard, verify)
			}
			if err == nil {
				return cp, nil
			}
		}
		return Checkpoint{}, fmt.Errorf("checkpoint of %s in (%d, %d]: %w", shard, after, limit, err)
	}
}

func fetchCheckpointFrom(ctx context.Context, dial FeedDialer, peer string, q FeedRequest, timeout time.Duration) (Checkpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := ask(ctx, dial, peer, q)
	if err != nil {
		return Checkpoint{}, err
	}
	defer c.close()
	cp, err := readCheckpoint(c.body)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint from %s: %w", peer, err)
	}
	return cp, nil
}

// checkCheckpoint checks that a checkpoint is of shard and signed by a central voter.
func checkCheckpoint(cp *Checkpoint, shard string, verify CheckpointVerifier) error {
	if cp.Shard != shard {
		return fmt.Errorf("checkpoint of shard %q, not %q", cp.Shard, shard)
	}
	if verify == nil {
		return fmt.Errorf("no checkpoint verifier")
	}
	if err := verify(cp); err != nil {
		return fmt.Errorf("checkpoint at %d signed by %q: %w", cp.Index, cp.Signer, err)
	}
	return nil
}
