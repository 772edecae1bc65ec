package transport

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/x/rate"
)

// Limits are the resource manager's explicit bounds. They are set from the federation's size, not
// scaled from the machine's memory as libp2p does by default, so a node behaves the same on every
// host and an operator can read what it will accept.
type Limits struct {
	// Memory is what libp2p may reserve for connections and stream buffers, in bytes.
	Memory int64
	// FD is the number of file descriptors libp2p may use for sockets.
	FD int
	// Conns bounds open connections, in and out together (a member uses one or two per peer).
	Conns int
	// ConnsPerIP bounds connections from one IPv4 address (or IPv6 /56): an airport may put several
	// edge nodes behind one NAT address, which libp2p's default of 8 would starve.
	ConnsPerIP int
	// RelayCircuits bounds relayed connections through this node when it is a relay.
	RelayCircuits int
	// ConnRatePerIP is how many new connections per second one IPv4 address (or IPv6 /56) may open
	// in steady state, with ConnBurstPerIP at once. libp2p's default (0.2/s, burst 16) would hold
	// back an airport whose edges share one NAT address when they all reconnect after an outage:
	// each opens a connection to every member it talks to.
	ConnRatePerIP  float64
	ConnBurstPerIP int
}

// DefaultLimits suits a central node of a federation of a few hundred members.
func DefaultLimits() Limits {
	return Limits{Memory: 1 << 30, FD: 4096, Conns: 2048, ConnsPerIP: 64, RelayCircuits: 1024,
		ConnRatePerIP: 2, ConnBurstPerIP: 128}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.FD <= 0 {
		l.FD = d.FD
	}
	if l.Conns <= 0 {
		l.Conns = d.Conns
	}
	if l.ConnsPerIP <= 0 {
		l.ConnsPerIP = d.ConnsPerIP
	}
	if l.RelayCircuits <= 0 {
		l.RelayCircuits = d.RelayCircuits
	}
	if l.ConnRatePerIP <= 0 {
		l.ConnRatePerIP = d.ConnRatePerIP
	}
	if l.ConnBurstPerIP <= 0 {
		l.ConnBurstPerIP = d.ConnBurstPerIP
	}
	return l
}

// relayBufferSize is the per-direction buffer of one relayed circuit: larger than libp2p's 2 KiB
// default because raft replication and snapshots run through relays for NATed members.
const relayBufferSize = 16 << 10

// resourceManager builds a fixed limiter from l: libp2p's defaults for its own services, explicit
// limits for each fedarms protocol and for the relay, then the system-wide caps from l.
func (l Limits) resourceManager() (network.ResourceManager, error) {
	l = l.withDefaults()
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	for _, p := range Protocols {
		// Per protocol: raft keeps a small pool of streams per peer and group; gossip opens a stream
		// per push-pull; the rest are request/response. Per-peer caps stop one member from using
		// the whole budget.
		scaling.AddProtocolLimit(protocol.ID(p),
			rcmgr.BaseLimit{StreamsInbound: 4096, StreamsOutbound: 4096, Streams: 8192, Memory: 256 << 20},
			rcmgr.BaseLimitIncrease{})
		scaling.AddProtocolPeerLimit(protocol.ID(p),
			rcmgr.BaseLimit{StreamsInbound: 128, StreamsOutbound: 128, Streams: 256, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{})
	}
	circuits := l.RelayCircuits
	scaling.AddServiceLimit(relayv2.ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 2 * circuits, StreamsOutbound: 2 * circuits, Streams: 4 * circuits,
			Memory: int64(circuits) * 2 * relayBufferSize},
		rcmgr.BaseLimitIncrease{})
	scaling.AddServicePeerLimit(relayv2.ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 256, StreamsOutbound: 256, Streams: 256, Memory: 16 << 20},
		rcmgr.BaseLimitIncrease{})
	concrete := scaling.Scale(l.Memory, l.FD)
	caps := rcmgr.PartialLimitConfig{System: rcmgr.ResourceLimits{
		Conns:         rcmgr.LimitVal(l.Conns),
		ConnsInbound:  rcmgr.LimitVal(l.Conns),
		ConnsOutbound: rcmgr.LimitVal(l.Conns),
		FD:            rcmgr.LimitVal(l.FD),
		Memory:        rcmgr.LimitVal64(l.Memory),
	}}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(caps.Build(concrete)),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: l.ConnsPerIP}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: l.ConnsPerIP}}),
		rcmgr.WithConnRateLimiters(l.connRateLimiter()),
		rcmgr.WithMetricsDisabled())
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}

// connRateLimiter is libp2p's connection rate limiter with l's per-address rate: loopback unlimited
// (as libp2p has it), one IPv4 address or IPv6 /56 at ConnRatePerIP, a whole IPv6 /48 (a site) at
// ten times that.
func (l Limits) connRateLimiter() *rate.Limiter {
	per := rate.Limit{RPS: l.ConnRatePerIP, Burst: l.ConnBurstPerIP}
	site := rate.Limit{RPS: 10 * l.ConnRatePerIP, Burst: 10 * l.ConnBurstPerIP}
	return &rate.Limiter{
		NetworkPrefixLimits: []rate.PrefixLimit{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Limit: rate.Limit{}},
			{Prefix: netip.MustParsePrefix("::1/128"), Limit: rate.Limit{}},
		},
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: per}},
			IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: per}, {PrefixLength: 48, Limit: site}},
			GracePeriod:      time.Minute,
		},
	}
}
