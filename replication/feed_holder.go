package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedarms/fedarms/internal/seal"
)

// HolderConfig configures a fed holder: a copy of a shard kept outside its raft group, pulled
// from other holders over the feed protocol and verified against checkpoints signed by central
// voters.
type HolderConfig struct {
	Shard string
	Dir   string // holds state.db
	// Sources are the members to take the shard from, in order of preference; Centrals (called at
	// each choice) are the last resort.
	Sources  []string
	Centrals func() []string
	Dial     FeedDialer
	Verify   CheckpointVerifier
	Observer Observer
	Logger   *slog.Logger
	// Key seals the copy's records at rest, as a group's (nil: plain).
	Key *seal.Key
	// Refused is told of every batch or copy refused (the node counts it and audits it).
	Refused func(shard, peer, reason string)
	// Wait is how long a source may hold a request with nothing new (default 10 s); Timeout, how
	// much longer an answer may take (default 20 s); Away, how long a source that failed is
	// skipped (default 5 s); CopyTimeout bounds a copy of the whole state (default 30 min).
	Wait, Timeout, Away, CopyTimeout time.Duration
	// CopyResumeWait is how long after the last chunk from the source a copy held in part began
	// with another source resumes it, sending only what differs (default 20 s).
	CopyResumeWait time.Duration
	// MaxEntries and MaxBytes bound a batch asked for (defaults 256 entries, 8 MiB); KeepBytes
	// bounds the entries kept to serve holders fed from this one (default 64 MiB).
	MaxEntries, MaxBytes uint32
	KeepBytes            int
	// noSync skips fsync on commit (the scale run's holders only).
	noSync bool
	// decode replaces Command.UnmarshalBinary (tests emulate another release with it).
	decode func(*Command, []byte) error
}

// Holder is a fed holder of one shard (see HolderConfig). It also serves what it applied to
// holders fed from it (FeedServer.ServeHolder).
type Holder struct {
	cfg   HolderConfig
	state *State
	log   *slog.Logger
	kept  keptLog
	halt  *halter // feed_halt.go
	// copies counts the copies of the whole state taken (entries are the rule; tests check it).
	copies atomic.Int64
	stop   context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex // guards the fields below
	source  string
	contact time.Time // last answer from a source
	away    map[string]time.Time
	dropped map[string]string // source → why it was refused
}

// OpenHolder opens (or creates) the holder's state under cfg.Dir and starts pulling.
func OpenHolder(cfg HolderConfig) (*Holder, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for p, d := range map[*time.Duration]time.Duration{&cfg.Wait: 10 * time.Second, &cfg.Timeout: 20 * time.Second,
		&cfg.Away: 5 * time.Second, &cfg.CopyTimeout: 30 * time.Minute, &cfg.CopyResumeWait: defaultCopyResumeWait} {
		if *p <= 0 {
			*p = d
		}
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 256
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = defaultFeedBytes
	}
	if cfg.KeepBytes <= 0 {
		cfg.KeepBytes = 64 << 20
	}
	if cfg.Centrals == nil {
		cfg.Centrals = func() []string { return nil }
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("shard %s: %w", cfg.Shard, err)
	}
	state, err := openState(filepath.Join(cfg.Dir, "state.db"), cfg.Key, cfg.noSync)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Holder{cfg: cfg, state: state, log: cfg.Logger.With("subsystem", "feed", "shard", cfg.Shard),
		halt: newHalter(), stop: cancel, done: make(chan struct{}), away: map[string]time.Time{}, dropped: map[string]string{}}
	kept, err := state.loadKept()
	if err != nil {
		// Only what it serves to others is lost: they are sent a copy instead.
		h.log.Warn("feed: kept batches unreadable; holders fed from this one get a copy", "error", err)
	}
	h.kept.load(state.Stats().AppliedIndex, kept, cfg.KeepBytes)
	go h.run(ctx)
	return h, nil
}

// Shard is the holder's shard.
func (h *Holder) Shard() string { return h.cfg.Shard }

// State is the holder's copy.
func (h *Holder) State() *State { return h.state }

// Source is the member the holder takes the shard from now (empty before the first choice), and
// when it last answered.
func (h *Holder) Source() (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.source, h.contact
}

// Dropped lists the sources refused for serving what the voters did not commit, with the reason.
func (h *Holder) Dropped() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]string, len(h.dropped))
	for k, v := range h.dropped {
		out[k] = v
	}
	return out
}

// Close stops pulling and closes the state.
func (h *Holder) Close() error {
	h.stop()
	<-h.done
	return h.state.Close()
}

// next is the first source not dropped and not away: the configured ones in order, then the
// central nodes.
func (h *Holder) next(now time.Time) string {
	cands := append(slices.Clone(h.cfg.Sources), h.cfg.Centrals()...)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cands {
		if _, bad := h.dropped[c]; bad || now.Before(h.away[c]) {
			continue
		}
		if h.source != c {
			h.log.Info("feed source chosen", "source", c, "was", h.source)
			h.source = c
		}
		return c
	}
	return ""
}

// A source answering "no checkpoint now" is asked again after unavailableRetry, up to
// maxUnavailable times in a row, before it counts as failed.
const (
	unavailableRetry = 100 * time.Millisecond
	maxUnavailable   = 20
)

func (h *Holder) run(ctx context.Context) {
	defer close(h.done)
	unavailable := 0
	for ctx.Err() == nil {
		src := h.next(time.Now())
		if src == "" {
			select {
			case <-ctx.Done():
			case <-time.After(min(h.cfg.Away, time.Second)):
			}
			continue
		}
		err := h.pull(ctx, src)
		fe := (*FeedError)(nil)
		if errors.As(err, &fe) && fe.Status == feedBehind {
			err = h.takeCopy(ctx, src)
		}
		var re *refusal
		switch {
		case err == nil:
			unavailable = 0
		case ctx.Err() != nil:
		case errors.As(err, &re):
			h.refuse(src, re.reason)
		case h.haltOn(err, time.Now()):
			// Not the source's fault. Another source is tried next (a hostile one may have sent
			// the entry), slowly: every honest one answers the same until a newer release runs.
			unavailable = 0
			h.failed(src, err)
			select {
			case <-ctx.Done():
			case <-time.After(h.cfg.Away):
			}
		case errors.As(err, &fe) && fe.Status == feedUnavailable && unavailable < maxUnavailable:
			// A source ahead of every central voter it asked has no checkpoint yet: soon it will.
			unavailable++
			select {
			case <-ctx.Done():
			case <-time.After(unavailableRetry):
			}
		default:
			unavailable = 0
			h.failed(src, err)
		}
	}
}

// refusal is what a source sent that the voters did not commit (or that breaks the protocol).
type refusal struct{ reason string }

func (r *refusal) Error() string { return "refused: " + r.reason }

func refused(format string, args ...any) error { return &refusal{reason: fmt.Sprintf(format, args...)} }

func (h *Holder) refuse(src, reason string) {
	h.mu.Lock()
	h.dropped[src] = reason
	h.mu.Unlock()
	h.log.Error("feed source refused and dropped", "source", src, "reason", reason)
	if h.cfg.Refused != nil {
		h.cfg.Refused(h.cfg.Shard, src, reason)
	}
}

func (h *Holder) failed(src string, err error) {
	h.mu.Lock()
	h.away[src] = time.Now().Add(h.cfg.Away)
	h.mu.Unlock()
	h.log.Warn("feed source failed; trying the next", "source", src, "error", err, "retry_after", h.cfg.Away)
}

func (h *Holder) touched() {
	h.mu.Lock()
	h.contact = time.Now()
	h.mu.Unlock()
}

// cut reports whether err is the stream ending early (a link or peer gone), as opposed to bytes
// that arrived and are wrong.
func cut(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// pull asks src for the entries after this copy's applied index and applies them if they prove
// out against their checkpoint.
func (h *Holder) pull(ctx context.Context, src string) error {
	applied := h.state.Stats().AppliedIndex
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Wait+h.cfg.Timeout)
	defer cancel()
	c, err := ask(ctx, h.cfg.Dial, src, FeedRequest{Kind: FeedEntries, Shard: h.cfg.Shard, After: applied,
		MaxEntries: h.cfg.MaxEntries, MaxBytes: h.cfg.MaxBytes, Wait: h.cfg.Wait})
	var fe *FeedError
	if errors.As(err, &fe) && fe.Status == feedNothing {
		h.touched()
		return nil
	}
	if err != nil {
		return err
	}
	defer c.close()
	cp, entries, err := readFeedEntries(c.body, applied, true)
	if err != nil {
		if cut(err) || ctx.Err() != nil {
			return err
		}
		return refused("malformed batch: %v", err)
	}
	if err := checkCheckpoint(&cp, h.cfg.Shard, h.cfg.Verify); err != nil {
		return refused("%v", err)
	}
	if err := h.applyVerified(cp, entries); err != nil {
		return err
	}
	h.touched()
	h.resumed()
	return nil
}
