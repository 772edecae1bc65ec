package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// raftHeaderTimeout bounds how long an incoming raft stream may take to name its group.
const raftHeaderTimeout = 10 * time.Second

// ErrGroupExists is returned when a raft group already has a layer on this host.
var ErrGroupExists = errors.New("raft group already has a stream layer on this host")

// RaftLayer is a raft.StreamLayer for one raft group over libp2p streams. A node runs several
// groups (control plus one per shard) over one host, so every raft stream (ProtoRaftZstd, or
// ProtoRaft toward an older member) starts with a header naming its group (one length byte, then
// the name) and the host hands it to that group's layer. The raft ServerAddress of a node is its peer id string, which is also Addr().String():
//
//	layer, _ := transport.NewRaftLayer(host, "shard-europe")
//	trans := raft.NewNetworkTransport(layer, 3, 10*time.Second, logw)
type RaftLayer struct {
	h        *Host
	group    string
	auth     RaftAuthorizer // nil: every member's stream reaches raft unread (tests, tools)
	maxRPC   int            // bound of one request read by the guard
	plain    bool           // dial ProtoRaft only
	noResume bool           // dial ProtoRaftZstd, then ProtoRaft
	partials *SnapshotPartials
	onSnap   func(SnapshotTransfer)
	accept   chan net.Conn
	closed   chan struct{}
	once     sync.Once

	sendMu  sync.Mutex
	sending map[peer.ID]int // guarded by sendMu; InstallSnapshots being sent per peer
}

var _ raft.StreamLayer = (*RaftLayer)(nil)

// RaftLayerConfig configures a group's stream layer.
type RaftLayerConfig struct {
	// Group names the raft group: 1-255 bytes, unique on the host.
	Group string
	// Authorizer screens every incoming stream and every RPC on it (raft_guard.go); a node sets it
	// on every group it runs.
	Authorizer RaftAuthorizer
	// MaxRPC bounds one incoming request (not an InstallSnapshot's data); 0 is DefaultMaxRaftRPC.
	MaxRPC int
	// Uncompressed dials ProtoRaft only, as a release before ProtoRaftZstd does (for measuring
	// and for compatibility tests); both protocols are served whatever it says.
	Uncompressed bool
	// NoResume dials ProtoRaftZstd and then ProtoRaft, as a release before ProtoRaftResume does
	// (for compatibility tests); ProtoRaftResume is served whatever it says.
	NoResume bool
	// Partials keeps incoming snapshots while they arrive, so that a cut transfer resumes; nil
	// receives them without (a transfer cut part way starts again from zero).
	Partials *SnapshotPartials
	// OnSnapshot is told of every InstallSnapshot on ProtoRaftResume, sent or received, once it
	// ends; it runs on the stream's goroutine and must be quick.
	OnSnapshot func(SnapshotTransfer)
}

// NewRaftLayer registers group on h and returns its stream layer, without an authorizer: any
// member's RPCs reach raft. Nodes use NewRaftLayerWithConfig.
func NewRaftLayer(h *Host, group string) (*RaftLayer, error) {
	return NewRaftLayerWithConfig(h, RaftLayerConfig{Group: group})
}

// NewRaftLayerWithConfig registers cfg.Group on h and returns its stream layer.
func NewRaftLayerWithConfig(h *Host, cfg RaftLayerConfig) (*RaftLayer, error) {
	group := cfg.Group
	if group == "" || len(group) > 255 {
		return nil, fmt.Errorf("raft layer: group name %q: want 1-255 bytes", group)
	}
	if cfg.MaxRPC <= 0 {
		cfg.MaxRPC = DefaultMaxRaftRPC
	}
	h.raftMu.Lock()
	defer h.raftMu.Unlock()
	if h.raftGroups == nil {
		for _, proto := range []string{ProtoRaftResume, ProtoRaftZstd, ProtoRaft} {
			if err := h.Handle(proto, h.serveRaft); err != nil {
				return nil, fmt.Errorf("raft layer: %w", err)
			}
		}
		if err := h.Handle(ProtoRaftCap, h.serveRaftCap); err != nil {
			return nil, fmt.Errorf("raft layer: %w", err)
		}
		h.raftGroups = map[string]*RaftLayer{}
	}
	if _, ok := h.raftGroups[group]; ok {
		return nil, fmt.Errorf("raft layer %s: %w", group, ErrGroupExists)
	}
	l := &RaftLayer{h: h, group: group, auth: cfg.Authorizer, maxRPC: cfg.MaxRPC, plain: cfg.Uncompressed,
		noResume: cfg.NoResume, partials: cfg.Partials, onSnap: cfg.OnSnapshot,
		accept: make(chan net.Conn), closed: make(chan struct{})}
	h.raftGroups[group] = l
	return l, nil
}

// ServerAddress is the raft address of the node with peer id p.
func ServerAddress(p peer.ID) raft.ServerAddress { return raft.ServerAddress(p.String()) }

// Accept waits for the next incoming raft connection of this group.
func (l *RaftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("raft layer %s: %w", l.group, net.ErrClosed)
	}
}

// Close unregisters the group; raft's NetworkTransport calls it on shutdown.
func (l *RaftLayer) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.h.raftMu.Lock()
		if l.h.raftGroups[l.group] == l {
			delete(l.h.raftGroups, l.group)
		}
		l.h.raftMu.Unlock()
	})
	return nil
}

// Addr is this node's raft address: its peer id.
func (l *RaftLayer) Addr() net.Addr { return peerAddr{l.h.id} }

// Dial opens a stream to the node whose raft address (peer id) is address: on ProtoRaftResume when
// the node speaks it, else ProtoRaftZstd, else ProtoRaft.
func (l *RaftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, err := peer.Decode(string(address))
	if err != nil {
		return nil, fmt.Errorf("raft dial %q: not a peer id: %w", address, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var s network.Stream
	switch {
	case l.plain:
		s, err = l.h.NewStream(ctx, id, ProtoRaft)
	case l.noResume:
		s, err = l.h.NewStream(ctx, id, ProtoRaftZstd, ProtoRaft)
	default:
		s, err = l.h.NewStream(ctx, id, ProtoRaftResume, ProtoRaftZstd, ProtoRaft)
	}
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", l.group, err)
	}
	wire := l.h.raftWire(s, l.group, id)
	wire.(*raftWire).pace = l.h.raftPaceTo(id)
	hdr := raftHeader(l.group)
	_ = wire.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := wire.Write(hdr); err != nil {
		s.Reset()
		return nil, fmt.Errorf("raft dial %s: header: %w", l.group, err)
	}
	_ = wire.SetWriteDeadline(time.Time{})
	framed, err := l.framed(wire, id, func() { _ = s.Reset() })
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("raft dial %s: %w", l.group, err)
	}
	if s.Protocol() == ProtoRaftResume {
		framed = newResumeSender(l, framed, id)
	}
	return streamConn{Stream: framed, local: peerAddr{l.h.id}, remote: peerAddr{id}}, nil
}

// snapshotDone logs an InstallSnapshot on ProtoRaftResume and tells OnSnapshot.
func (l *RaftLayer) snapshotDone(t SnapshotTransfer) {
	side := "received"
	if t.Sending {
		side = "sent"
	}
	l.h.log.Info("raft snapshot "+side, "group", t.Group, "peer", t.Peer, "size", t.Size, "resumed", t.Resumed,
		"sent", t.Sent, "err", t.Err)
	if l.onSnap != nil {
		l.onSnap(t)
	}
}

// framed is what raft reads and writes on wire: the stream's bytes as they are on ProtoRaft, or
// decoded from zstd frames on ProtoRaftZstd. A frame that breaks the format resets the stream and
// counts as the peer's refusal (bad_frame), on streams this node dialled too: a member that answers
// with a zstd bomb is as hostile as one that sends one.
func (l *RaftLayer) framed(wire network.Stream, from peer.ID, kill func()) (network.Stream, error) {
	if p := wire.Protocol(); p != ProtoRaftZstd && p != ProtoRaftResume {
		return wire, nil
	}
	return newZstdStream(wire, func(err error) {
		kill()
		if l.auth != nil {
			l.auth.RaftRefused(l.group, from, "bad_frame", err)
		} else {
			l.h.log.Warn("raft stream refused", "group", l.group, "peer", from, "reason", "bad_frame", "err", err)
		}
	})
}

// raftHeader is what a raft stream starts with: one length byte, then the group name (1-255 bytes).
func raftHeader(group string) []byte { return append([]byte{byte(len(group))}, group...) }

// readRaftHeader reads the header raftHeader writes.
func readRaftHeader(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", fmt.Errorf("raft stream header: %w", err)
	}
	name := make([]byte, n[0])
	if _, err := io.ReadFull(r, name); err != nil {
		return "", fmt.Errorf("raft stream header: %w", err)
	}
	return string(name), nil
}

// serveRaft reads the group header of an incoming raft stream and hands the stream to that
// group's layer; a stream for a group this node does not run is reset, and so is one the group's
// authorizer refuses. An authorised stream reaches raft through the group's RPC guard.
func (h *Host) serveRaft(s network.Stream) {
	_ = s.SetReadDeadline(time.Now().Add(raftHeaderTimeout))
	name, err := readRaftHeader(s)
	if err != nil {
		s.Reset()
		return
	}
	_ = s.SetReadDeadline(time.Time{})
	h.raftMu.Lock()
	l := h.raftGroups[name]
	h.raftMu.Unlock()
	if l == nil {
		h.log.Debug("raft stream for unknown group", "group", name, "peer", s.Conn().RemotePeer())
		s.Reset()
		return
	}
	from := s.Conn().RemotePeer()
	if l.auth != nil {
		if err := l.auth.AuthorizeStream(l.group, from); err != nil {
			s.Reset()
			l.auth.RaftRefused(l.group, from, refusalReason(err), err)
			return
		}
	}
	wire := h.raftWire(s, name, from)
	countHeader(wire, 0, len(raftHeader(name)))
	framed, err := l.framed(wire, from, func() { _ = s.Reset() })
	if err != nil {
		h.log.Error("raft stream", "group", name, "peer", from, "err", err)
		s.Reset()
		return
	}
	var c net.Conn = streamConn{Stream: framed, local: peerAddr{h.id}, remote: peerAddr{from}}
	// On ProtoRaftResume the guard also runs the snapshot exchange, so every stream has one.
	if resume := s.Protocol() == ProtoRaftResume; l.auth != nil || resume {
		c = guardedConn{streamConn: c.(streamConn), guard: &rpcGuard{l: l, from: from,
			src: bufio.NewReaderSize(framed, 64<<10), kill: func() { _ = s.Reset() }, resume: resume, answer: framed}}
	}
	select {
	case l.accept <- c:
	case <-l.closed:
		s.Reset()
	case <-h.closed:
		s.Reset()
	}
}
