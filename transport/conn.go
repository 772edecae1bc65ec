package transport

import (
	"net"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// peerAddr is a net.Addr that names a peer: raft uses the listener's address as its own server
// address, so the string must be the peer id and nothing else.
type peerAddr struct{ id peer.ID }

// Network names the address family for net.Addr.
func (a peerAddr) Network() string { return "libp2p" }

// String is the peer id.
func (a peerAddr) String() string { return a.id.String() }

// streamConn lets raft and memberlist, which speak net.Conn, run on a libp2p stream. Read, Write,
// Close and the deadlines are the stream's own; only the addresses are supplied.
type streamConn struct {
	network.Stream
	local, remote net.Addr
}

var _ net.Conn = streamConn{}

// LocalAddr is this side's address in the form the adapter's user expects.
func (c streamConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr is the other side's address in the form the adapter's user expects.
func (c streamConn) RemoteAddr() net.Addr { return c.remote }

// guardedConn is an incoming raft stream whose reads pass through the group's RPC guard; writes
// (raft's answers), deadlines and Close are the stream's own.
type guardedConn struct {
	streamConn
	guard *rpcGuard
}

// Read hands raft only the bytes of authorised RPCs.
func (c guardedConn) Read(p []byte) (int, error) { return c.guard.Read(p) }

// Close closes the stream, then ends a snapshot the guard was receiving (unblocking its read first).
func (c guardedConn) Close() error {
	err := c.streamConn.Close()
	c.guard.close()
	return err
}
