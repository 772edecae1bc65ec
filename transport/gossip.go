package transport

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// GossipPort is the port of every member's synthetic gossip address (see GossipAddr).
const GossipPort = 7946

// ErrShutdown is returned by a gossip transport after Shutdown.
var ErrShutdown = errors.New("gossip transport shut down")

// GossipTransport is a memberlist.NodeAwareTransport over libp2p. memberlist names nodes by their
// peer id string (Config.Name) and this transport routes by that name, so memberlist's IP:port
// addresses carry no routing information. They must still look like IP:port, so each member gets
// a synthetic, stable one (GossipAddr); it also lets a name-less address map back to a member.
//
// Packets (probes, gossip) go on one long-lived stream per peer on ProtoGossipPacket, each packet
// framed by a uvarint length; a bounded queue per peer drops packets when the peer is slow or gone,
// which is the best-effort contract memberlist expects of UDP. Streams (push-pull, fallback probes)
// are one libp2p stream each on ProtoGossipStream.
type GossipTransport struct {
	h        *Host
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	closed   chan struct{}
	once     sync.Once
	wg       sync.WaitGroup

	mu      sync.Mutex
	senders map[peer.ID]*packetSender // guarded by mu

	heardMu sync.Mutex            // guards heard
	heard   map[peer.ID]time.Time // when a packet last came from each peer itself
}

var _ memberlist.NodeAwareTransport = (*GossipTransport)(nil)

// NewGossipTransport serves the gossip protocols on h; pass it as memberlist.Config.Transport.
func NewGossipTransport(h *Host) (*GossipTransport, error) {
	t := &GossipTransport{
		h:        h,
		packetCh: make(chan *memberlist.Packet, 256),
		streamCh: make(chan net.Conn),
		closed:   make(chan struct{}),
		senders:  map[peer.ID]*packetSender{},
		heard:    map[peer.ID]time.Time{},
	}
	if err := h.Handle(ProtoGossipPacket, t.servePackets); err != nil {
		return nil, fmt.Errorf("gossip transport: %w", err)
	}
	if err := h.Handle(ProtoGossipStream, t.serveStream); err != nil {
		h.Unhandle(ProtoGossipPacket)
		return nil, fmt.Errorf("gossip transport: %w", err)
	}
	return t, nil
}

// GossipAddr is the synthetic address memberlist sees for member p: an IPv6 unique-local address
// (fd00::/8) made of the first 15 bytes of SHA-256 of the peer id, and GossipPort.
func GossipAddr(p peer.ID) (net.IP, int) {
	sum := sha256.Sum256([]byte(p))
	ip := make(net.IP, net.IPv6len)
	ip[0] = 0xfd
	copy(ip[1:], sum[:15])
	return ip, GossipPort
}

func gossipHostPort(p peer.ID) string {
	ip, port := GossipAddr(p)
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// JoinAddress is what memberlist.Join needs to reach member p: "<peer id>/<gossip address>".
func JoinAddress(p peer.ID) string { return p.String() + "/" + gossipHostPort(p) }

// GossipConfig returns memberlist's LAN defaults wired to this transport and host: the node name is
// the peer id. Adjust timings and set the Delegate before memberlist.Create.
func GossipConfig(h *Host, t *GossipTransport) *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.Name = h.ID().String()
	c.Transport = t
	ip, port := GossipAddr(h.ID())
	c.AdvertiseAddr, c.AdvertisePort = ip.String(), port
	c.BindAddr, c.BindPort = ip.String(), port
	return c
}

// FinalAdvertiseAddr is always this member's synthetic gossip address.
func (t *GossipTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	ip, port := GossipAddr(t.h.ID())
	return ip, port, nil
}

// WriteTo sends a packet to a member known only by address.
func (t *GossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress queues a packet for a member. Like UDP, a packet lost to a full queue, a dead peer
// or the fault switch is not an error.
func (t *GossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	id, err := t.resolve(a)
	if err != nil {
		return now, err
	}
	if f := t.h.faults; f != nil {
		if f.Blocked(t.h.id, id) || f.dropNow() {
			return now, nil
		}
		if d := f.delayNow(); d > 0 {
			buf := append([]byte(nil), b...)
			time.AfterFunc(d, func() { t.enqueue(id, buf) })
			return now, nil
		}
	}
	t.enqueue(id, append([]byte(nil), b...))
	return now, nil
}

// PacketCh delivers incoming packets.
func (t *GossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a stream to a member known only by address.
func (t *GossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a gossip stream to a member.
func (t *GossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	select {
	case <-t.closed:
		return nil, ErrShutdown
	default:
	}
	id, err := t.resolve(a)
	if err != nil {
		return nil, err
	}
	ctx, cancel := contextWithTimeoutOrClose(timeout, t.closed)
	defer cancel()
	s, err := t.h.NewStream(ctx, id, ProtoGossipStream)
	if err != nil {
		return nil, fmt.Errorf("gossip dial: %w", err)
	}
	return t.conn(s, id), nil
}

// LastHeard is when a gossip packet last came from p itself, over a stream p authenticated: unlike
// what memberlist is told about p (relayed, in anyone's name), proof that p was alive then.
func (t *GossipTransport) LastHeard(p peer.ID) time.Time {
	t.heardMu.Lock()
	defer t.heardMu.Unlock()
	return t.heard[p]
}

// StreamCh delivers incoming gossip streams.
func (t *GossipTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown stops serving gossip and ends the packet senders; memberlist calls it from its own
// Shutdown.
func (t *GossipTransport) Shutdown() error {
	t.once.Do(func() {
		t.mu.Lock() // enqueue starts senders under mu, so none starts after this
		close(t.closed)
		t.mu.Unlock()
		t.h.Unhandle(ProtoGossipPacket)
		t.h.Unhandle(ProtoGossipStream)
		t.wg.Wait()
	})
	return nil
}

// resolve maps a memberlist address to a member: by node name when memberlist gives one (it does
// for every message it originates), else by matching the synthetic address against the roster.
func (t *GossipTransport) resolve(a memberlist.Address) (peer.ID, error) {
	if a.Name != "" {
		id, err := peer.Decode(a.Name)
		if err != nil {
			return "", fmt.Errorf("gossip: node name %q is not a peer id: %w", a.Name, err)
		}
		return id, nil
	}
	for _, e := range t.h.roster.List() {
		if gossipHostPort(e.PeerID) == a.Addr {
			return e.PeerID, nil
		}
	}
	return "", fmt.Errorf("gossip: no member has address %s: %w", a.Addr, ErrNotMember)
}

func (t *GossipTransport) conn(s network.Stream, remote peer.ID) net.Conn {
	lip, lport := GossipAddr(t.h.id)
	rip, rport := GossipAddr(remote)
	return streamConn{Stream: s, local: &net.TCPAddr{IP: lip, Port: lport}, remote: &net.TCPAddr{IP: rip, Port: rport}}
}

func (t *GossipTransport) serveStream(s network.Stream) {
	select {
	case t.streamCh <- t.conn(s, s.Conn().RemotePeer()):
	case <-t.closed:
		s.Reset()
	}
}
