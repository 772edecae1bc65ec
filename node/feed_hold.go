package node

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// A node whose [replication] sources names a shard holds it as a fed holder: a copy kept outside
// the shard's raft group, taken from those members in order, then from the central nodes, and
// verified against checkpoints signed by central voters (replication/feed_holder.go). It publishes
// "fed" for the shard in its signed health, so the shard's leader does not add it as a non-voter
// (and removes it if it was one); writes go to the leader as a non-voter's do (apply.go).

// fedShard is a fed holder as the node reads it (shardCopy).
type fedShard struct{ *replication.Holder }

// Freshness is the copy's applied index and when its source last answered: a source that answers
// "nothing new" after a long poll is contact too, as a leader's heartbeat is for a non-voter.
func (s fedShard) Freshness() (uint64, time.Time) {
	_, contact := s.Source()
	return s.State().Stats().AppliedIndex, contact
}

// Status reports the copy with the role "fed"; it knows no leader (writes go through a central
// node, which knows it). A halted holder reports why, as a raft copy does.
func (s fedShard) Status() replication.Status {
	st := s.State().Stats()
	_, contact := s.Source()
	out := replication.Status{Shard: s.Shard(), Role: "fed", AppliedIndex: st.AppliedIndex, Records: st.Records,
		Digest: st.Digest, LastContact: contact, CommitIndex: st.AppliedIndex}
	if h, ok := s.Holder.Halted(); ok {
		out.Halt = &h
	}
	return out
}

// Halted: a fed holder halts on an entry of a command format this release does not read, or when
// its state file cannot be written (an entry its source forged is refused instead, and the source
// dropped): replication/feed_halt.go.
func (s fedShard) Halted() (replication.Halt, bool) { return s.Holder.Halted() }

// openFedHolder opens shard's copy under dataDir as a fed holder and serves it to holders fed
// from this node. The directory is the one a raft group of the shard uses: a node that held the
// shard as a non-voter goes on from its copy (log indexes are the group's either way).
func (n *Node) openFedHolder(shard string, sources []string) (fedShard, error) {
	f := n.fed
	h, err := replication.OpenHolder(replication.HolderConfig{
		Shard: shard, Dir: filepath.Join(n.cfg.DataDir, "shards", shard), Sources: sources,
		Centrals: f.centralNames, Dial: n.meteredFeedDial(shard), Verify: f.verifyCheckpoint,
		Observer: n.index, Logger: n.log.With("subsystem", "replication"), Key: n.atRest.key,
		Refused: n.feedRefused, Wait: feedHolderWait(n.cfg.MaxStaleness.Duration),
		MaxBytes:       feedBatchBytes(n.cfg.Replication.MaxBandwidthBytes()),
		CopyResumeWait: n.cfg.Replication.CopyResumeWait.Duration,
	})
	if err != nil {
		return fedShard{}, err
	}
	if f.feed != nil {
		f.feed.ServeHolder(h)
	}
	return fedShard{h}, nil
}

// meteredFeedDial dials feed streams for shard whose bytes count in the replication counters
// (fedarms_replication_{sent,received}_bytes_total{shard,peer}), as raft's do: the feed's answers
// are zstd streams, so this is what the link carries, less libp2p's framing.
func (n *Node) meteredFeedDial(shard string) replication.FeedDialer {
	return func(ctx context.Context, peer string) (io.ReadWriteCloser, error) {
		s, err := n.fed.dialFeed(ctx, peer)
		if err != nil {
			return nil, err
		}
		return meteredStream{rw: s, sent: n.met.replSent.WithLabelValues(shard, peer),
			recv: n.met.replRecv.WithLabelValues(shard, peer)}, nil
	}
}

// meteredStream counts the bytes read and written on a stream.
type meteredStream struct {
	rw         io.ReadWriter
	sent, recv prometheus.Counter
}

func (s meteredStream) Read(p []byte) (int, error) {
	n, err := s.rw.Read(p)
	s.recv.Add(float64(n))
	return n, err
}

func (s meteredStream) Write(p []byte) (int, error) {
	n, err := s.rw.Write(p)
	s.sent.Add(float64(n))
	return n, err
}

// Reset resets the stream beneath (a feed source resets a stream still sending a copy its asker
// came back for), else closes it.
func (s meteredStream) Reset() error {
	if r, ok := s.rw.(interface{ Reset() error }); ok {
		return r.Reset()
	}
	return s.Close()
}

// Close closes the stream beneath, when it has a Close.
func (s meteredStream) Close() error {
	if c, ok := s.rw.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// feedHolderWait is how long a fed holder lets its source hold a request with nothing new. The
// answer "nothing new" is the holder's contact with its source, as a heartbeat is a non-voter's, so
// it comes well within max_staleness: a quiet shard is not reported stale.
func feedHolderWait(maxStaleness time.Duration) time.Duration {
	return min(max(maxStaleness/4, time.Second), 10*time.Second)
}

// feedRefused counts and audits a batch or copy a source sent that the voters did not commit: the
// holder has dropped the source.
func (n *Node) feedRefused(shard, peer, reason string) {
	n.met.feedRefused.WithLabelValues(shard, peer).Inc()
	q, _ := json.Marshal(map[string]string{"shard": shard, "protocol": string(transport.ProtoFeed), "detail": reason})
	n.audit.Append(audit.Entry{Agency: "member:" + peer, Action: "feed.refused", Query: q, Outcome: "dropped_as_source"})
}

// fedMembers are the members (by peer id) whose signed health says they hold shard as fed
// holders. Only their
// own signed word counts, and it only takes them out of the raft group: a member that lies about
// it only stops getting the shard from the leader.
func (f *fed) fedMembers(shard string) map[string]bool {
	if f.gossip == nil {
		return nil
	}
	out := map[string]bool{}
	for pid, sm := range f.gossip.snapshot() {
		if !sm.signed || !sm.hasH {
			continue
		}
		for _, s := range sm.health.Shards {
			if s.Shard == shard && s.Fed {
				out[pid] = true
			}
		}
		if slices.Contains(sm.health.FedShards, shard) { // health cut short for size
			out[pid] = true
		}
	}
	return out
}

// holdsOnceHeard says which roster members belong in shard's raft group: those that hold it,
// central ones at once (voters to be), any other once its health has arrived (heard, by peer id;
// nil without gossip: at once) and can say whether it holds the shard as a fed holder.
func holdsOnceHeard(shard string, heard map[string]bool) func(transport.Entry) bool {
	return func(e transport.Entry) bool {
		return e.Holds(shard) && (heard == nil || heard[e.PeerID.String()] || e.Role == transport.RoleCentral)
	}
}

// heardFrom are the members (by peer id) whose health has arrived, signed or not; nil without
// gossip. Until a member's health says whether it holds a shard as a fed holder, the shard's leader
// does not add it as a non-voter: its roster entry does not say, and a fed holder added for a
// moment takes raft's entries and snapshot for nothing.
func (f *fed) heardFrom() map[string]bool {
	if f.gossip == nil {
		return nil
	}
	out := map[string]bool{}
	for pid, sm := range f.gossip.snapshot() {
		if sm.hasH {
			out[pid] = true
		}
	}
	return out
}
