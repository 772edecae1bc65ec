package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Every member serves the shards it holds over the feed protocol (replication/feed_wire.go), so a
// fed holder can take a shard from it: a central node signs the checkpoints itself with its node
// key; any other member asks a central node for them.

// Time a feed stream may take: the request within feedRequestTimeout; the answer, which may be a
// copy of a whole shard on a thin link, within feedStreamTimeout.
const (
	feedRequestTimeout = 10 * time.Second
	feedStreamTimeout  = 30 * time.Minute
	feedCheckpointWait = 5 * time.Second
)

// feedBatchBytes bounds the command bytes a fed holder asks for in one batch: what its
// replication cap carries in half a batch's timeout (20 s) even uncompressed, so a batch on a thin
// link arrives in time and the link is taken in short answers; 0 (the default, 8 MiB) uncapped.
func feedBatchBytes(capBytesPerSec int64) uint32 {
	if capBytesPerSec <= 0 {
		return 0
	}
	return uint32(min(max(capBytesPerSec*10, 64<<10), 8<<20))
}

// feedSigner signs checkpoints with the node key (central members only).
type feedSigner struct{ f *fed }

func (s feedSigner) Name() string { return s.f.self.Name }

func (s feedSigner) Sign(b []byte) ([]byte, error) { return s.f.id.Key.Sign(b) }

// verifyCheckpoint accepts a checkpoint signed by the key of a central member of the roster (a
// revoked member is no longer in it).
func (f *fed) verifyCheckpoint(cp *replication.Checkpoint) error {
	e, ok := f.roster.ByName(cp.Signer)
	if !ok {
		return errors.New("signer is not a member")
	}
	if e.Role != transport.RoleCentral {
		return fmt.Errorf("signer is a %s member, not a central one", e.Role)
	}
	pub, err := e.PeerID.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("signer's key: %w", err)
	}
	ok, err = pub.Verify(cp.SignedBytes(), cp.Sig)
	if err != nil || !ok {
		return errors.New("bad signature")
	}
	return nil
}

// dialFeed opens a feed stream to a member by name.
func (f *fed) dialFeed(ctx context.Context, name string) (io.ReadWriteCloser, error) {
	pid, ok := f.peerOf(name)
	if !ok {
		return nil, fmt.Errorf("%s is not a member", name)
	}
	s, err := f.host.NewStream(ctx, pid, transport.ProtoFeed)
	if err != nil {
		return nil, err
	}
	// The answer is replication: it counts against max_bandwidth with raft's (one budget per node).
	return f.host.PaceReplication(s, pid), nil
}

// centralNames lists the central members other than this node.
func (f *fed) centralNames() []string {
	var out []string
	for _, e := range f.roster.List() {
		if e.Role == transport.RoleCentral && e.Name != f.self.Name {
			out = append(out, e.Name)
		}
	}
	return out
}

// startFeed registers the feed protocol's handler. The shards named in [replication] sources are
// held as fed holders (feed_hold.go), opened with the node's groups.
func (f *fed) startFeed(fedShards []string, met *metrics) error {
	if len(fedShards) > 0 {
		f.log.Info("holding shards as fed holders, outside their raft groups", "shards", fedShards)
	}
	f.feed = replication.NewFeedServer(f.log)
	// Only a member that holds a shard (by its signed roster entry) is fed it: an admitted edge
	// must not read another region's records whole through the feed.
	f.feed.AllowOnly(func(peer, shard string) bool {
		e, ok := f.roster.ByName(peer)
		return ok && e.Holds(shard)
	})
	// What this node serves counts in fedarms_replication_sent_bytes_total{shard,peer}, as what a
	// fed holder takes counts in received (meteredFeedDial).
	f.feed.MeterWith(func(shard, peer string, rw io.ReadWriter) io.ReadWriter {
		return meteredStream{rw: rw, sent: met.replSent.WithLabelValues(shard, peer), recv: met.replRecv.WithLabelValues(shard, peer)}
	})
	return f.host.Handle(transport.ProtoFeed, func(raw network.Stream) {
		defer raw.Close()
		start := time.Now() // wall clock: stream deadlines are the network's, not the node's clock
		_ = raw.SetDeadline(start.Add(feedStreamTimeout))
		_ = raw.SetReadDeadline(start.Add(feedRequestTimeout))
		from := raw.Conn().RemotePeer()
		name := from.String()
		if e, ok := f.roster.Get(from); ok {
			name = e.Name
		}
		// Answers are paced toward the asker at its announced cap and held to this node's own,
		// shared with raft: a copy must not queue ahead of a receipt on a thin link.
		s := f.host.PaceReplication(raw, from)
		if err := f.feed.Serve(context.Background(), s, name); err != nil {
			f.log.Debug("feed stream ended", "peer", name, "error", err)
		}
	})
}

// serveFeed serves an open shard group over the feed protocol.
func (f *fed) serveFeed(g *replication.Group) {
	if f.feed == nil {
		return
	}
	if f.self.Role == transport.RoleCentral {
		f.feed.ServeGroup(g, feedSigner{f}, replication.FetchCheckpoint(f.dialFeed, f.centralNames, f.verifyCheckpoint, feedCheckpointWait))
		return
	}
	f.feed.ServeGroup(g, nil, replication.FetchCheckpoint(f.dialFeed, f.centralNames, f.verifyCheckpoint, feedCheckpointWait))
}
