package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Host errors.
var (
	ErrUnknownProtocol = errors.New("protocol id is not registered in transport.Protocols")
	ErrNotMember       = errors.New("peer is not in the roster")
	ErrClosed          = errors.New("host closed")
)

// Config is what NewHost needs. Identity, ListenAddrs and Roster are required.
type Config struct {
	// Identity is the node's key; its peer id must be in the roster for others to admit it.
	Identity *Identity
	// ListenAddrs are multiaddrs to listen on, such as /ip4/0.0.0.0/tcp/4001 and
	// /ip4/0.0.0.0/udp/4001/quic-v1. Empty means dial out only (a NATed edge).
	ListenAddrs []string
	// Roster decides who may connect, and where members listen.
	Roster *Roster
	// Relay makes this host a circuit relay v2 for roster members (central nodes).
	Relay bool
	// ReserveRelays makes this host keep a reservation on every central member's relay, so that
	// members can reach it through them while it can only dial out (edges behind NAT).
	ReserveRelays bool
	// EnableHolePunching lets a peer reached through a relay try to upgrade to a direct connection
	// (DCUtR). It only acts once the host has learnt a public address of its own; the relayed
	// connections opened before then are closed at that moment, so that they are punched when next
	// dialled (holepunch.go).
	EnableHolePunching bool
	// Limits bound the resource manager; zero fields take DefaultLimits.
	Limits Limits
	// Faults is the test fault switch; nil (the default) outside tests.
	Faults *Faults
	// Metrics registers libp2p's metrics; nil leaves them off.
	Metrics prometheus.Registerer
	// Logger receives the host's logs (subsystem=transport); nil discards them.
	Logger *slog.Logger
	// RaftBandwidth caps the host's raft traffic, in bytes per second each way (raft_wire.go);
	// 0 is no cap.
	RaftBandwidth int64
	// RaftMeter counts the bytes of raft streams per group and peer; nil counts nothing.
	RaftMeter RaftMeter
}

// Host is a node's libp2p host: the only way fedarms talks to other nodes.
type Host struct {
	p2p    host.Host
	id     peer.ID
	roster *Roster
	faults *Faults
	log    *slog.Logger
	relay  *relayv2.Relay // nil unless Config.Relay

	stopWatch func()
	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup

	addrMu    sync.Mutex
	lastAddrs map[peer.ID][]ma.Multiaddr // guarded by addrMu; what syncAddrs last set per member

	raftMu     sync.Mutex
	raftGroups map[string]*RaftLayer // guarded by raftMu; nil until the first NewRaftLayer
	raftCap    *bandwidthCap         // nil: raft traffic is not capped
	raftMeter  RaftMeter             // nil: raft traffic is not counted

	paceMu sync.Mutex
	paces  map[peer.ID]*raftPace // guarded by paceMu; the pace toward each peer dialled for raft

	resMu        sync.Mutex
	reservations map[peer.ID]reservation // guarded by resMu
	reserveKick  chan struct{}           // nil unless Config.ReserveRelays
}

// NewHost starts a libp2p host with TCP and QUIC, Noise, yamux, an explicit resource manager and a
// gater that admits only roster members. ctx bounds the start only; the host runs until Close.
func NewHost(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Identity == nil || cfg.Roster == nil {
		return nil, errors.New("new host: Identity and Roster are required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	lg = lg.With("subsystem", "transport", "peer", cfg.Identity.ID.String())
	rm, err := cfg.Limits.resourceManager()
	if err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	gater := &rosterGater{self: cfg.Identity.ID, roster: cfg.Roster, faults: cfg.Faults, log: lg}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity.Key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(gater),
		// Never trim: every connection is to a member the gater admitted, and raft needs them all.
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.EnableRelay(), // the circuit client, to dial and accept through central relays
		libp2p.UserAgent("fedarms"),
	}
	if len(cfg.ListenAddrs) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if cfg.EnableHolePunching {
		opts = append(opts, libp2p.EnableHolePunching())
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	p2p, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("new host: %w", err)
	}
	h := &Host{
		p2p:          p2p,
		id:           cfg.Identity.ID,
		roster:       cfg.Roster,
		faults:       cfg.Faults,
		raftCap:      newBandwidthCap(cfg.RaftBandwidth),
		raftMeter:    cfg.RaftMeter,
		log:          lg,
		closed:       make(chan struct{}),
		reservations: map[peer.ID]reservation{},
		lastAddrs:    map[peer.ID][]ma.Multiaddr{},
	}
	if cfg.Relay {
		if h.relay, err = startRelay(p2p, cfg.Roster, cfg.Limits.withDefaults()); err != nil {
			p2p.Close()
			return nil, fmt.Errorf("new host: %w", err)
		}
	}
	if cfg.ReserveRelays {
		h.reserveKick = make(chan struct{}, 1)
	}
	if h.faults != nil {
		h.faults.register(h)
	}
	h.stopWatch = cfg.Roster.Watch(h.onRosterChange)
	if cfg.ReserveRelays {
		p2p.Network().Notify(&network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
			h.kickReserver()
		}})
		h.wg.Add(1)
		go h.reserveLoop()
	}
	if cfg.EnableHolePunching {
		h.wg.Add(1)
		go h.reconnectWhenPunchReady()
	}
	lg.Info("host started", "addrs", h.ListenAddrs(), "relay", cfg.Relay, "reserve_relays", cfg.ReserveRelays)
	return h, nil
}

// ID is this node's peer id.
func (h *Host) ID() peer.ID { return h.id }

// ListenAddrs are the addresses this host listens on, as strings for a roster entry.
func (h *Host) ListenAddrs() []string {
	var out []string
	for _, a := range h.p2p.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// P2P exposes the libp2p host for what this package does not wrap (tests, metrics, diagnostics).
// Register protocol handlers through Handle, not on it.
func (h *Host) P2P() host.Host { return h.p2p }

// Roster is the roster this host gates on.
func (h *Host) Roster() *Roster { return h.roster }

// Handle serves proto, which must be one of Protocols. A stream from a peer that has left the
// roster, or across a fault-switch cut, is reset before fn sees it.
func (h *Host) Handle(proto string, fn func(network.Stream)) error {
	if !slices.Contains(Protocols, proto) {
		return fmt.Errorf("handle %s: %w", proto, ErrUnknownProtocol)
	}
	h.p2p.SetStreamHandler(protocol.ID(proto), func(s network.Stream) {
		remote := s.Conn().RemotePeer()
		if !h.roster.Has(remote) || (h.faults != nil && h.faults.Blocked(h.id, remote)) {
			s.Reset()
			return
		}
		if h.faults != nil {
			fn(faultyStream{Stream: s, faults: h.faults})
			return
		}
		fn(s)
	})
	return nil
}

// Unhandle stops serving proto.
func (h *Host) Unhandle(proto string) { h.p2p.RemoveStreamHandler(protocol.ID(proto)) }

// NewStream opens a stream to a member on proto, dialling it (directly or through a relay) at the
// addresses its roster entry gives when there is no connection yet. With fallbacks, the member
// picks the first of proto, fallbacks... it speaks (the stream's Protocol says which).
func (h *Host) NewStream(ctx context.Context, p peer.ID, proto string, fallbacks ...string) (network.Stream, error) {
	protos := append([]protocol.ID{protocol.ID(proto)}, protocol.ConvertFromStrings(fallbacks)...)
	for _, pr := range protos {
		if !slices.Contains(Protocols, string(pr)) {
			return nil, fmt.Errorf("new stream %s: %w", pr, ErrUnknownProtocol)
		}
	}
	select {
	case <-h.closed:
		return nil, fmt.Errorf("new stream to %s: %w", p, ErrClosed)
	default:
	}
	if !h.roster.Has(p) {
		return nil, fmt.Errorf("new stream to %s: %w", p, ErrNotMember)
	}
	if h.faults != nil {
		if h.faults.Blocked(h.id, p) {
			return nil, fmt.Errorf("new stream to %s: %w", p, ErrCut)
		}
		if h.faults.dropNow() {
			return nil, fmt.Errorf("new stream to %s: %w", p, ErrDropped)
		}
	}
	h.forgetDialFailures(p)
	s, err := h.p2p.NewStream(ctx, p, protos...)
	if err != nil {
		return nil, fmt.Errorf("new stream to %s: %w", p, err)
	}
	if h.faults != nil {
		return faultyStream{Stream: s, faults: h.faults}, nil
	}
	return s, nil
}

// Connect makes sure there is a connection to a member.
func (h *Host) Connect(ctx context.Context, p peer.ID) error {
	if !h.roster.Has(p) {
		return fmt.Errorf("connect %s: %w", p, ErrNotMember)
	}
	h.forgetDialFailures(p)
	if err := h.p2p.Connect(ctx, peer.AddrInfo{ID: p}); err != nil {
		return fmt.Errorf("connect %s: %w", p, err)
	}
	return nil
}

// forgetDialFailures clears libp2p's dial backoff for a member we are not connected to. The
// backoff grows to 5 minutes after repeated failures, which would hold an edge off the federation
// for minutes after its link returns; members are few and trusted, and every caller here (raft,
// memberlist, the reservation loop) already paces its own retries.
func (h *Host) forgetDialFailures(p peer.ID) {
	if h.Connected(p) {
		return
	}
	if sw, ok := h.p2p.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
}

// Connected reports whether there is an open connection to p.
func (h *Host) Connected(p peer.ID) bool {
	return h.p2p.Network().Connectedness(p) == network.Connected
}

// Close stops the host, its relay and its background work.
func (h *Host) Close() error {
	var err error
	h.closeOnce.Do(func() {
		close(h.closed)
		h.stopWatch()
		if h.faults != nil {
			h.faults.unregister(h)
		}
		if h.relay != nil {
			h.relay.Close()
		}
		err = h.p2p.Close()
		h.wg.Wait()
	})
	return err
}

func (h *Host) closePeer(p peer.ID) {
	if err := h.p2p.Network().ClosePeer(p); err != nil {
		h.log.Debug("close peer", "peer", p, "err", err)
	}
}
