package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"
)

// Feed protocol, version 1 (one request and its answer per stream; transport.ProtoFeed):
//
//	request:  version 1 | kind | uvarint len, shard | uvarint after | uvarint want | uvarint limit
//	          | uvarint max entries | uvarint max bytes | uvarint wait (ms)
//	answer:   version 1 | status | when status is not feedOK: uvarint len, message
//	          | when feedOK: a zstd stream of the body, which depends on the kind:
//	  entries:    checkpoint | uvarint count | count x (uvarint index | uvarint term | uvarint len, data)
//	  checkpoint: checkpoint
//	  copy:       checkpoint | a FEDSNAP1 snapshot stream of the state at the checkpoint's index
//	  copy in chunks (kind 4, feed_copy_wire.go): a copy's body, resumable
//	  copy resumed from another source (kind 5, feed_resume_wire.go): what differs from the records
//	              the asker holds, in chunks as kind 4's (its summary follows the request's fields)
//	checkpoint:   uvarint len, shard | uvarint index | 2048-byte hash | uvarint len, signer
//	              | uvarint len, signature
//
// Only command entries travel; the others (raft's configuration and no-op entries) carry nothing a
// copy needs, and the checkpoint's index says where the batch ends. Every length is bounded before
// anything is sized by it: the peer may be hostile.
const feedVersion = 1

// Feed request kinds.
const (
	FeedEntries    byte = 1 // committed entries after an index, ending at a checkpoint
	FeedCheckpoint byte = 2 // a checkpoint signed by a central voter (asked of central nodes)
	FeedCopy       byte = 3 // a copy of the state at a checkpoint
	// FeedCopyChunks is a copy in checksummed chunks, resumable at a byte offset (feed_copy_wire.go);
	// a server of a release before it answers feedBadRequest, and the asker takes a FeedCopy.
	FeedCopyChunks byte = 4
	// FeedCopyResume resumes a copy cut part way from another source than the one it began with:
	// the asker sums the records it holds and the source sends what differs (feed_resume_wire.go),
	// in chunks as FeedCopyChunks. A server of a release before it answers feedBadRequest.
	FeedCopyResume byte = 5
)

// Feed answer statuses.
const (
	feedOK          byte = 0
	feedUnknown     byte = 1 // this node does not serve the shard
	feedBehind      byte = 2 // the entries after the index are no longer kept here: ask for a copy
	feedNothing     byte = 3 // nothing after the index yet (after waiting as asked)
	feedUnavailable byte = 4 // no checkpoint can be had now
	feedBadRequest  byte = 5
	feedNoSession   byte = 6 // the copy session asked to resume is not held here: start a new one
)

// Bounds of the protocol; a peer that goes past them is refused.
const (
	maxFeedShard     = 64
	maxFeedSigner    = 128
	maxFeedSig       = 512
	maxFeedMessage   = 512
	maxFeedEntries   = 4096
	maxFeedEntry     = 16 << 20
	maxFeedBatch     = 64 << 20 // decompressed bytes of one entries answer
	maxFeedWait      = 30 * time.Second
	defaultFeedBytes = 8 << 20
)

// FeedRequest is one question to a holder that serves a shard.
type FeedRequest struct {
	Kind  byte
	Shard string
	After uint64 // the asker holds everything up to here
	// Want is the index the asker would like the answer to end at (entries: after+max entries;
	// checkpoint: the preferred index); Limit, for a checkpoint, the highest it can use.
	Want, Limit uint64
	MaxEntries  uint32
	MaxBytes    uint32
	// Wait is how long the server may hold the request when it has nothing after After yet.
	Wait time.Duration
	// Resume is where a FeedCopyChunks or FeedCopyResume request picks a copy up (zero: a new copy).
	Resume CopyResume
	// summary sums the records a FeedCopyResume asker holds (none when it resumes a diff it began).
	summary []heldRange
}

// FeedEntry is one committed command entry.
type FeedEntry struct {
	Index, Term uint64
	Data        []byte
}

// FeedError is an answer other than OK from a source.
type FeedError struct {
	Status  byte
	Message string
}

func (e *FeedError) Error() string { return fmt.Sprintf("feed status %d: %s", e.Status, e.Message) }

func appendFeedString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// MarshalBinary encodes the request.
func (q *FeedRequest) MarshalBinary() ([]byte, error) {
	if len(q.Shard) > maxFeedShard {
		return nil, fmt.Errorf("feed request: shard name of %d bytes", len(q.Shard))
	}
	b := []byte{feedVersion, q.Kind}
	b = appendFeedString(b, q.Shard)
	for _, v := range []uint64{q.After, q.Want, q.Limit, uint64(q.MaxEntries), uint64(q.MaxBytes), uint64(q.Wait / time.Millisecond)} {
		b = binary.AppendUvarint(b, v)
	}
	if q.Kind == FeedCopyChunks || q.Kind == FeedCopyResume {
		b = q.Resume.appendWire(b)
	}
	if q.Kind == FeedCopyResume {
		if len(q.summary) == 0 {
			b = binary.AppendUvarint(b, 0) // resuming a diff it began: no summary
		} else {
			b = appendSummary(b, q.summary)
		}
	}
	return b, nil
}

// readFeedRequest reads a request, refusing what is out of bounds.
func readFeedRequest(r *bufio.Reader) (FeedRequest, error) {
	var q FeedRequest
	v, err := r.ReadByte()
	if err != nil {
		return q, fmt.Errorf("feed request: %w", err)
	}
	if v != feedVersion {
		return q, fmt.Errorf("feed request: version %d", v)
	}
	if q.Kind, err = r.ReadByte(); err != nil {
		return q, fmt.Errorf("feed request: %w", err)
	}
	if q.Kind < FeedEntries || q.Kind > FeedCopyResume {
		return q, fmt.Errorf("feed request: kind %d", q.Kind)
	}
	if q.Shard, err = readFeedString(r, maxFeedShard); err != nil {
		return q, fmt.Errorf("feed request shard: %w", err)
	}
	var nums [6]uint64
	for i := range nums {
		if nums[i], err = binary.ReadUvarint(r); err != nil {
			return q, fmt.Errorf("feed request: %w", err)
		}
	}
	q.After, q.Want, q.Limit = nums[0], nums[1], nums[2]
	q.MaxEntries = uint32(min(nums[3], maxFeedEntries))
	q.MaxBytes = uint32(min(nums[4], maxFeedBatch))
	q.Wait = time.Duration(min(nums[5], uint64(maxFeedWait/time.Millisecond))) * time.Millisecond
	if q.Kind == FeedCopyChunks || q.Kind == FeedCopyResume {
		if q.Resume, err = readCopyResume(r); err != nil {
			return q, fmt.Errorf("feed request: %w", err)
		}
	}
	return q, nil
}

func readFeedString(r *bufio.Reader, limit int) (string, error) {
	b, err := readFeedBytes(r, limit)
	return string(b), err
}

func readFeedBytes(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("length %d over %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *Checkpoint) appendWire(b []byte) []byte {
	b = appendFeedString(b, c.Shard)
	b = binary.AppendUvarint(b, c.Index)
	b = c.Hash.AppendBinary(b)
	b = appendFeedString(b, c.Signer)
	b = binary.AppendUvarint(b, uint64(len(c.Sig)))
	return append(b, c.Sig...)
}

func readCheckpoint(r *bufio.Reader) (Checkpoint, error) {
	var c Checkpoint
	var err error
	if c.Shard, err = readFeedString(r, maxFeedShard); err != nil {
		return c, fmt.Errorf("checkpoint shard: %w", err)
	}
	if c.Index, err = binary.ReadUvarint(r); err != nil {
		return c, fmt.Errorf("checkpoint index: %w", err)
	}
	var h [StateHashSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return c, fmt.Errorf("checkpoint hash: %w", err)
	}
	c.Hash.setBinary(h[:])
	if c.Signer, err = readFeedString(r, maxFeedSigner); err != nil {
		return c, fmt.Errorf("checkpoint signer: %w", err)
	}
	if c.Sig, err = readFeedBytes(r, maxFeedSig); err != nil {
		return c, fmt.Errorf("checkpoint signature: %w", err)
	}
	return c, nil
}

// appendFeedEntries encodes an entries body.
func appendFeedEntries(b []byte, cp *Checkpoint, entries []FeedEntry) []byte {
	b = cp.appendWire(b)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.Index)
		b = binary.AppendUvarint(b, e.Term)
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

// readFeedEntries reads an entries body: entries strictly increasing, after `after`, at or below
// the checkpoint's index, and at most maxFeedBatch bytes in all; whole, nothing after them, when
// whole is set (a copy's snapshot follows them).
func readFeedEntries(r *bufio.Reader, after uint64, whole bool) (Checkpoint, []FeedEntry, error) {
	cp, err := readCheckpoint(r)
	if err != nil {
		return cp, nil, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return cp, nil, fmt.Errorf("entry count: %w", err)
	}
	if n > maxFeedEntries {
		return cp, nil, fmt.Errorf("%d entries over %d", n, maxFeedEntries)
	}
	if cp.Index <= after {
		return cp, nil, fmt.Errorf("checkpoint at %d is not after %d", cp.Index, after)
	}
	entries := make([]FeedEntry, 0, n)
	total := 0
	prev := after
	for i := uint64(0); i < n; i++ {
		var e FeedEntry
		if e.Index, err = binary.ReadUvarint(r); err != nil {
			return cp, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if e.Term, err = binary.ReadUvarint(r); err != nil {
			return cp, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if e.Index <= prev || e.Index > cp.Index {
			return cp, nil, fmt.Errorf("entry %d: index %d out of order (after %d, checkpoint %d)", i, e.Index, prev, cp.Index)
		}
		prev = e.Index
		if e.Data, err = readFeedBytes(r, min(maxFeedEntry, maxFeedBatch-total)); err != nil {
			return cp, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		total += len(e.Data)
		entries = append(entries, e)
	}
	if whole {
		// The answer ends where the stream does; a read that fails otherwise is the stream cut
		// (a timeout, a closed link), which is no fault of the bytes.
		switch _, err := r.ReadByte(); {
		case err == nil:
			return cp, nil, errors.New("data after the entries")
		case err != io.EOF:
			return cp, nil, fmt.Errorf("end of the entries: %w", err)
		}
	}
	return cp, entries, nil
}

// feedEntryOf turns a raft log entry into what the feed carries; ok is false for entries that
// carry no command.
func feedEntryOf(l *raft.Log) (FeedEntry, bool) {
	if l.Type != raft.LogCommand {
		return FeedEntry{}, false
	}
	return FeedEntry{Index: l.Index, Term: l.Term, Data: l.Data}, true
}
