package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
)

// hashicorp/raft believes the sender an RPC names in its header: an AppendEntries from anyone who
// can open a raft stream and names a higher term makes a voter follow it and commit its entries.
// So every RPC on an incoming raft stream passes a guard before raft's NetworkTransport reads a
// byte of it: the guard reads the request as raft frames it (one byte of rpc type, the msgpack
// request, and for InstallSnapshot the snapshot's bytes), asks the group's RaftAuthorizer whether
// the authenticated remote peer may send it under the sender it names, and then hands raft exactly
// the bytes the sender wrote, or resets the stream. Honest peers see no change on the wire.

// DefaultMaxRaftRPC bounds one raft request (the msgpack request, not an InstallSnapshot's data,
// which is streamed). An AppendEntries carries up to 64 log entries and an import entry up to
// raft.apply_batch records, so the bound is generous; only an authorised voter's stream gets this
// far, and the guard's buffer grows only as bytes arrive.
const DefaultMaxRaftRPC = 256 << 20

// RaftRPCType is the kind of a raft RPC, as hashicorp/raft's NetworkTransport numbers it.
type RaftRPCType uint8

// The raft RPCs a node receives on an incoming stream; each is initiated by a voter (the leader or a
// candidate), never by a non-voter.
const (
	RaftAppendEntries RaftRPCType = iota
	RaftRequestVote
	RaftInstallSnapshot
	RaftTimeoutNow
	RaftRequestPreVote
)

// String names the RPC type for logs.
func (t RaftRPCType) String() string {
	switch t {
	case RaftAppendEntries:
		return "AppendEntries"
	case RaftRequestVote:
		return "RequestVote"
	case RaftInstallSnapshot:
		return "InstallSnapshot"
	case RaftTimeoutNow:
		return "TimeoutNow"
	case RaftRequestPreVote:
		return "RequestPreVote"
	}
	return fmt.Sprintf("rpc(%d)", uint8(t))
}

// RaftRPC is the sender a raft RPC names, read from it before raft sees it.
type RaftRPC struct {
	Type RaftRPCType
	// ID and Addr are the RPC header's server id and address (raft uses Addr as the leader's or
	// candidate's address, and ID as its server id).
	ID, Addr string
	// Legacy is the deprecated Leader (AppendEntries, InstallSnapshot) or Candidate (RequestVote)
	// field, which raft uses when Addr is empty; empty when unset.
	Legacy string

	snapTerm, snapIndex uint64 // an InstallSnapshot's last included entry
}

// RaftAuthorizer decides who may send raft RPCs to a group on this host. Its methods run on the
// stream's goroutine and must be quick: every AppendEntries and heartbeat waits for AuthorizeRPC.
type RaftAuthorizer interface {
	// AuthorizeStream is asked when from opens a raft stream for group; an error resets the
	// stream before raft sees it.
	AuthorizeStream(group string, from peer.ID) error
	// AuthorizeRPC is asked for each RPC on an accepted stream; an error resets the stream before
	// raft reads a byte of the RPC.
	AuthorizeRPC(group string, from peer.ID, rpc RaftRPC) error
	// RaftRefused is told of every stream the layer reset: reason is a short stable token (the
	// authorizer's own, from a *RaftRefusal, or "bad_rpc" and "rpc_too_big" for a request the
	// layer could not read).
	RaftRefused(group string, from peer.ID, reason string, err error)
}

// RaftRefusal is an authorizer's refusal with a short stable reason token for metrics and audit.
type RaftRefusal struct {
	Reason string
	Err    error
}

// Error is the reason and what was wrong.
func (r *RaftRefusal) Error() string { return r.Reason + ": " + r.Err.Error() }

// Unwrap is what was wrong.
func (r *RaftRefusal) Unwrap() error { return r.Err }

// refusalReason is the reason token of a refusal.
func refusalReason(err error) string {
	var r *RaftRefusal
	if errors.As(err, &r) && r.Reason != "" {
		return r.Reason
	}
	return "refused"
}

// rpcGuard reads an incoming raft stream ahead of raft, one RPC at a time, and passes on only
// authorised RPCs. It is the Read side of the conn raft gets; raft reads from one goroutine.
type rpcGuard struct {
	l    *RaftLayer
	from peer.ID
	src  *bufio.Reader
	kill func() // resets the stream

	pending  []byte // the current RPC's bytes not yet handed to raft
	snapLeft int64  // InstallSnapshot data still to hand to raft, read straight from src
	err      error  // once set, every Read returns it

	// On ProtoRaftResume an InstallSnapshot's data comes by the resume exchange (recv), whose
	// answers go to answer.
	resume bool
	answer io.Writer
	recv   *snapRecv
	closer atomic.Pointer[snapRecv] // recv, for a Close from another goroutine
}

// Read hands raft the bytes of authorised RPCs; after a refusal it returns io.EOF (raft closes the
// conn quietly; the layer has already logged and reported the refusal).
func (g *rpcGuard) Read(p []byte) (int, error) {
	for {
		switch {
		case g.err != nil:
			return 0, g.err
		case len(p) == 0:
			return 0, nil
		case len(g.pending) > 0:
			n := copy(p, g.pending)
			g.pending = g.pending[n:]
			return n, nil
		case g.snapLeft > 0:
			if int64(len(p)) > g.snapLeft {
				p = p[:g.snapLeft]
			}
			if g.recv != nil {
				n, err := g.recv.Read(p)
				g.snapLeft -= int64(n)
				if errors.Is(err, errBadResume) {
					g.err = g.refuse("bad_resume", err)
					return n, g.err
				}
				return n, err
			}
			n, err := g.src.Read(p)
			g.snapLeft -= int64(n)
			if errors.Is(err, io.EOF) && g.snapLeft > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if err := g.next(); err != nil {
			g.err = err
		}
	}
}

// next reads the next RPC into pending, or refuses it.
func (g *rpcGuard) next() error {
	t, err := g.src.ReadByte()
	if err != nil {
		return err // the sender closed between RPCs, or the stream broke: raft sees the same
	}
	var buf bytes.Buffer
	buf.WriteByte(t)
	if err := scanMsgpack(g.src, &buf, g.l.maxRPC); err != nil {
		switch {
		case errors.Is(err, errRPCTooBig):
			return g.refuse("rpc_too_big", fmt.Errorf("%s over %d bytes", RaftRPCType(t), g.l.maxRPC))
		case errors.Is(err, errMalformed):
			return g.refuse("bad_rpc", fmt.Errorf("%s: %w", RaftRPCType(t), err))
		}
		return err // the stream broke or timed out mid-request: raft sees the same, nobody is blamed
	}
	rpc, size, err := decodeRaftRPC(RaftRPCType(t), buf.Bytes()[1:])
	if err != nil {
		return g.refuse("bad_rpc", err)
	}
	if g.l.auth != nil {
		if err := g.l.auth.AuthorizeRPC(g.l.group, g.from, rpc); err != nil {
			return g.refuse(refusalReason(err), err)
		}
	}
	g.pending, g.snapLeft = buf.Bytes(), size
	if g.resume && size > 0 {
		g.recv = newSnapRecv(g.l, g.from, g.src, g.answer, rpc, size)
		g.closer.Store(g.recv)
	} else {
		g.recv = nil
	}
	return nil
}

// refuse resets the stream and reports why; raft then reads EOF.
func (g *rpcGuard) refuse(reason string, err error) error {
	g.kill()
	if g.l.auth != nil {
		g.l.auth.RaftRefused(g.l.group, g.from, reason, err)
	} else {
		g.l.h.log.Warn("raft stream refused", "group", g.l.group, "peer", g.from, "reason", reason, "err", err)
	}
	return io.EOF
}

// close ends the snapshot being received, if any, when raft closes the stream.
func (g *rpcGuard) close() {
	if r := g.closer.Load(); r != nil {
		r.close()
	}
}

// decodeRaftRPC decodes body, one msgpack request of type t, as raft would and returns the sender
// it names and, for InstallSnapshot, the size of the data that follows. The decode must consume the
// whole body, so raft, reading the same bytes with the same codec, ends the request where the
// guard did and cannot read an RPC the guard never saw.
func decodeRaftRPC(t RaftRPCType, body []byte) (RaftRPC, int64, error) {
	var (
		req    raft.WithRPCHeader
		legacy func() []byte
		size   func() int64
		snap   *raft.InstallSnapshotRequest
	)
	switch t {
	case RaftAppendEntries:
		r := &raft.AppendEntriesRequest{}
		req, legacy = r, func() []byte { return r.Leader }
	case RaftRequestVote:
		r := &raft.RequestVoteRequest{}
		req, legacy = r, func() []byte { return r.Candidate }
	case RaftRequestPreVote:
		req = &raft.RequestPreVoteRequest{}
	case RaftInstallSnapshot:
		r := &raft.InstallSnapshotRequest{}
		req, legacy, size = r, func() []byte { return r.Leader }, func() int64 { return r.Size }
		snap = r
	case RaftTimeoutNow:
		req = &raft.TimeoutNowRequest{}
	default:
		return RaftRPC{}, 0, fmt.Errorf("unknown raft rpc type %d", uint8(t))
	}
	dec := codec.NewDecoderBytes(body, &codec.MsgpackHandle{})
	if err := dec.Decode(req); err != nil {
		return RaftRPC{}, 0, fmt.Errorf("%s: %w", t, err)
	}
	if n := dec.NumBytesRead(); n != len(body) {
		return RaftRPC{}, 0, fmt.Errorf("%s: request of %d bytes decoded from %d", t, len(body), n)
	}
	hdr := req.GetRPCHeader()
	rpc := RaftRPC{Type: t, ID: string(hdr.ID), Addr: string(hdr.Addr)}
	if snap != nil {
		rpc.snapTerm, rpc.snapIndex = snap.LastLogTerm, snap.LastLogIndex
	}
	if legacy != nil {
		rpc.Legacy = string(legacy())
	}
	var n int64
	if size != nil {
		if n = size(); n < 0 {
			return RaftRPC{}, 0, fmt.Errorf("%s: negative snapshot size %d", t, n)
		}
	}
	return rpc, n, nil
}
