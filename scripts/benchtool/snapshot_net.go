package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Transports the catch-up is measured over.
const (
	overLibp2p = "libp2p" // raft over libp2p streams between two hosts on loopback, as federated nodes run it
	overInmem  = "inmem"  // raft's in-memory transport: the baseline without a network
)

// The two members of the measured group: raft server ids are roster names, as in a federation.
const (
	leaderName   = "lyon-1"
	followerName = "edge-cdg"
	benchShard   = "bench"
)

// raftPair is the leader's and the follower's raft transports for one run.
type raftPair struct {
	leader, follower         raft.Transport
	leaderAddr, followerAddr raft.ServerAddress
	// close releases what the transports run on (the libp2p hosts); the groups close the transports.
	close func()
	// wire is the raft bytes the follower's host has received and sent so far (0, 0 in memory).
	wire func() (received, sent int64)
}

// wireMeter counts a host's raft bytes on the wire, all groups and peers together.
type wireMeter struct{ received, sent wireCounter }

// wireCounter is a transport.ByteCounter.
type wireCounter struct{ n atomic.Int64 }

// Add counts n bytes.
func (c *wireCounter) Add(n float64) { c.n.Add(int64(n)) }

// RaftCounters gives every stream the same two counters.
func (m *wireMeter) RaftCounters(string, peer.ID) (transport.ByteCounter, transport.ByteCounter) {
	return &m.sent, &m.received
}

// inmemPair connects two in-memory transports both ways. The timeout is raised from raft's 500 ms
// because it also bounds a whole InstallSnapshot (ten times it), which at full size takes seconds.
func inmemPair() *raftPair {
	la, lt := raft.NewInmemTransportWithTimeout(leaderName, 30*time.Second)
	fa, ft := raft.NewInmemTransportWithTimeout(followerName, 30*time.Second)
	lt.Connect(fa, ft)
	ft.Connect(la, lt)
	return &raftPair{leader: lt, follower: ft, leaderAddr: la, followerAddr: fa, close: func() {},
		wire: func() (int64, int64) { return 0, 0 }}
}

// libp2pPair starts two hosts on loopback TCP, admits both in a roster signed by a fresh root key
// (a central node and an edge), and runs the shard's raft over a stream layer on each, configured
// as node/federation.go configures a shard group's transport. plain dials raft's uncompressed
// protocol; bandwidth caps both hosts' raft traffic (bytes per second, 0: none).
func libp2pPair(ctx context.Context, lg *slog.Logger, plain bool, bandwidth int64) (*raftPair, error) {
	rootPub, rootPriv, err := transport.GenerateRootKey()
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	var hosts []*transport.Host
	closeHosts := func() {
		for _, h := range hosts {
			h.Close()
		}
	}
	entries := []transport.Entry{
		{Name: leaderName, Role: transport.RoleCentral, Shards: []string{transport.AllShards}},
		{Name: followerName, Role: transport.RoleEdge, Country: "FR", Shards: []string{benchShard}},
	}
	var rosters []*transport.Roster
	meter := &wireMeter{} // the follower's
	for i := range entries {
		var m transport.RaftMeter
		if i == 1 {
			m = meter
		}
		h, roster, err := startHost(ctx, rootPub, lg.With("node", entries[i].Name), bandwidth, m)
		if err != nil {
			closeHosts()
			return nil, err
		}
		hosts, rosters = append(hosts, h), append(rosters, roster)
		entries[i].PeerID, entries[i].Addrs = h.ID(), h.ListenAddrs()
	}
	for _, e := range entries {
		se, err := transport.SignEntry(rootPriv, e)
		if err != nil {
			closeHosts()
			return nil, fmt.Errorf("sign %s: %w", e.Name, err)
		}
		for _, r := range rosters {
			if err := r.Add(se); err != nil {
				closeHosts()
				return nil, fmt.Errorf("roster add %s: %w", e.Name, err)
			}
		}
	}
	var trans []raft.Transport
	for i, h := range hosts {
		layer, err := transport.NewRaftLayerWithConfig(h, transport.RaftLayerConfig{Group: "shard/" + benchShard, Uncompressed: plain})
		if err != nil {
			closeHosts()
			return nil, err
		}
		trans = append(trans, raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: layer, MaxPool: 3, Timeout: 10 * time.Second,
			Logger: replication.HCLogger(lg.With("subsystem", "raft-net", "node", entries[i].Name), "raft-net"),
		}))
	}
	return &raftPair{
		leader: trans[0], follower: trans[1],
		leaderAddr: transport.ServerAddress(hosts[0].ID()), followerAddr: transport.ServerAddress(hosts[1].ID()),
		close: closeHosts,
		wire:  func() (int64, int64) { return meter.received.n.Load(), meter.sent.n.Load() },
	}, nil
}

// startHost runs a host with a new identity on a kernel-chosen loopback TCP port; its roster is
// empty until the caller adds the signed entries.
func startHost(ctx context.Context, rootPub ed25519.PublicKey, lg *slog.Logger, bandwidth int64, meter transport.RaftMeter) (*transport.Host, *transport.Roster, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("node key: %w", err)
	}
	id, err := transport.NewIdentity(priv)
	if err != nil {
		return nil, nil, err
	}
	roster, err := transport.NewRoster(rootPub)
	if err != nil {
		return nil, nil, err
	}
	h, err := transport.NewHost(ctx, transport.Config{Identity: id, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Roster: roster, Limits: transport.DefaultLimits(), Logger: lg, RaftBandwidth: bandwidth, RaftMeter: meter})
	if err != nil {
		return nil, nil, err
	}
	return h, roster, nil
}
