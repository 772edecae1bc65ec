package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// fed is the node's membership of a multi-node federation; nil for a one-node federation.
type fed struct {
	log    *slog.Logger
	id     *transport.Identity
	roster *transport.Roster
	host   *transport.Host
	faults *transport.Faults // nil unless federation.test_faults
	self   transport.Entry
	// joined is set on a central node that joined a running federation (central.go): it never
	// bootstraps a raft group.
	joined bool
	gossip *gossip
	// control is the control group, the authority over the roster (control.go).
	control *replication.Control
	// inbox is the GS inbox group on a central node (inbox.go); nil elsewhere.
	inbox *replication.Inbox
	// anchors is what this member knows about anchoring its audit chain (anchor.go).
	anchors *anchorer
	// refused records a member's refused request (Node.refused); frames books the bytes of the
	// requests being read (frames.go). Both are set before any handler is registered; the raft
	// guards call refused too.
	refused func(from peer.ID, proto, reason string, detail error)
	frames  *frameBudget
	// rescore re-scores remote search results with this node's matcher (remote_check.go).
	rescore rescorer
	// shardGuards are the raft guards of the shard groups, by shard; written and read only while
	// the node opens its groups.
	shardGuards map[string]*raftGuard
	// partials keeps incoming raft snapshots while they arrive (raft_guard.go); nil: none kept.
	partials *transport.SnapshotPartials
	// feed serves the shards this node holds to fed holders (feed.go).
	feed *replication.FeedServer

	stop chan struct{}
	// selfRevoked hears that the control group revoked this node (atrest.go acts on it).
	selfRevoked chan struct{}
	wg          sync.WaitGroup
}

// openFederation starts the host and the control group; refused records members' refused requests,
// met counts replication bytes.
// key, when the data dir is encrypted at rest, seals the snapshots it receives while they arrive.
func openFederation(cfg *config.Config, log *slog.Logger, refused func(peer.ID, string, string, error), met *metrics, key *seal.Key) (*fed, error) {
	fc := cfg.Federation
	var id *transport.Identity
	var err error
	if fc.KeyFile != "" {
		id, err = transport.LoadIdentity(fc.KeyFile)
	} else {
		id, err = transport.LoadOrCreateIdentity(cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	rootPub, err := transport.ParseRootPub(fc.RootPub)
	if err != nil {
		return nil, fmt.Errorf("federation.root_pub: %w", err)
	}
	roster, err := transport.NewRoster(rootPub)
	if err != nil {
		return nil, err
	}
	entries, err := fedplan.LoadRoster(fc.RosterFile)
	if err != nil {
		return nil, err
	}
	for _, se := range entries {
		if err := roster.Add(se); err != nil {
			return nil, fmt.Errorf("roster entry %s (%s): %w", se.Entry.Name, se.Entry.PeerID, err)
		}
	}
	if err := seedFromControl(cfg, roster, id.ID, log); err != nil {
		return nil, err
	}
	self, ok := roster.Get(id.ID)
	if !ok {
		return nil, fmt.Errorf("this node (peer id %s) is not in the roster %s: the General Secretariat must sign an entry for it", id.ID, fc.RosterFile)
	}
	if self.Name != cfg.Name || string(self.Role) != cfg.Role {
		return nil, fmt.Errorf("roster entry of this node says %s/%s, the config %s/%s", self.Name, self.Role, cfg.Name, cfg.Role)
	}
	if err := checkVoteWithLog(cfg, self, log.With("subsystem", "federation")); err != nil {
		return nil, err
	}
	f := &fed{log: log.With("subsystem", "federation"), id: id, roster: roster, self: self, stop: make(chan struct{}),
		refused: refused, shardGuards: map[string]*raftGuard{}, joined: hasJoined(cfg.DataDir)}
	f.partials = openSnapshotPartials(cfg.DataDir, f.log)
	if f.partials != nil && key != nil {
		f.partials.SealWith(key, seal.Overhead)
	}
	if fc.TestFaults {
		f.faults = transport.NewFaults(uint64(time.Now().UnixNano())) // wall clock: a seed, not a time
	}
	f.host, err = transport.NewHost(context.Background(), transport.Config{
		Identity: id, Roster: roster, ListenAddrs: fc.Listen, Logger: log.With("subsystem", "libp2p"),
		Relay: self.Role == transport.RoleCentral, ReserveRelays: self.Role == transport.RoleEdge,
		EnableHolePunching: self.Role == transport.RoleEdge, Faults: f.faults, Limits: transport.DefaultLimits(),
		RaftBandwidth: cfg.Replication.MaxBandwidthBytes(), RaftMeter: replicationMeter{m: met, roster: roster},
	})
	if err != nil {
		return nil, err
	}
	if err := f.startFeed(cfg.Replication.FedShards(), met); err != nil {
		f.host.Close()
		return nil, err
	}
	if err := f.openControl(cfg); err != nil {
		f.host.Close()
		return nil, err
	}
	return f, nil
}

// voters are the central members: the initial voters of every group the founding central members
// bootstrap.
func (f *fed) voters() []raft.Server {
	var out []raft.Server
	for _, e := range f.roster.List() {
		if e.Role == transport.RoleCentral {
			out = append(out, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(e.Name), Address: transport.ServerAddress(e.PeerID)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// groupConfig fills in what a shard group needs to run over libp2p: its raft streams are guarded
// (raft_guard.go), and groupOpened hands the guard the open group.
func (f *fed) groupConfig(gc *replication.GroupConfig) error {
	layer, guard, err := f.raftLayer("shard/" + gc.Shard)
	if err != nil {
		return err
	}
	f.shardGuards[gc.Shard] = guard
	gc.Transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second,
		Logger: replication.HCLogger(f.log.With("subsystem", "raft-net", "shard", gc.Shard), "raft-net"),
	})
	gc.Bootstrap = f.bootstraps()
	gc.Voters = f.voters()
	gc.Tune = tuneFederatedRaft
	return nil
}

// groupOpened lets the shard's raft guard check voters against the group's configuration.
func (f *fed) groupOpened(shard string, g raftServers) {
	if gd := f.shardGuards[shard]; gd != nil {
		gd.track(g)
	}
	if pg, ok := g.(appliedReporting); ok {
		pg.SetAppliedReport(f.reportedApplied(shard, func() uint64 { return pg.State().Stats().AppliedIndex }))
	}
	if rg, ok := g.(*replication.Group); ok {
		f.serveFeed(rg)
	}
}

// tuneFederatedRaft keeps raft's defaults (one second to notice a dead leader) but snapshots less
// eagerly by time: holders that were offline catch up from the trailing log.
func tuneFederatedRaft(c *raft.Config) {
	c.SnapshotInterval = 60 * time.Second
}

// peerOf finds a member's peer id by its raft server id (its roster name).
func (f *fed) peerOf(name string) (peer.ID, bool) {
	e, ok := f.roster.ByName(name)
	return e.PeerID, ok
}

// reconcile keeps the members of every raft group this node leads equal to the roster: the central
// members are the voters of every group, each shard group's non-voters are the other members that
// hold the shard, the control group's are every other member; members no longer in the roster are
// taken out.
func (n *Node) reconcile() {
	f := n.fed
	defer f.wg.Done()
	t := n.clock.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		for _, shard := range n.held {
			g := n.groups[shard]
			if !g.IsLeader() {
				continue
			}
			f.syncMembers("shard "+shard, g, holdsOnceHeard(shard, f.heardFrom()), f.fedMembers(shard))
		}
		if f.control != nil {
			f.syncMembers("control", f.control, func(transport.Entry) bool { return true }, nil)
		}
	}
}

// raftMembers is a raft group whose membership its leader keeps (a shard group, the control group).
type raftMembers interface {
	IsLeader() bool
	Servers() ([]raft.Server, error)
	AddNonvoter(id raft.ServerID, addr raft.ServerAddress) error
	RemoveServer(id raft.ServerID) error
	Promote(id raft.ServerID, addr raft.ServerAddress) error
}

// syncMembers brings g's configuration one step closer to the roster. Only g's leader acts. fed
// are the members (by peer id) that hold g's shard as fed holders (feed_hold.go): outside the
// group, so never added, and removed if they are non-voters. In order, and at most one change of
// voters per call:
//   - a server the roster no longer has at its address is removed: a revoked member, or the old
//     identity of a central member that was replaced under the same name (its vote must go before
//     the new identity, with an empty log, joins; raft would otherwise move the vote to it). The
//     last voter is never removed;
//   - a non-voter that is a fed holder is removed;
//   - every roster member that belongs in g, is not fed, and is not a member at its address is
//     added as a non-voter (a central member too: it catches up before it votes);
//   - a central member that is a non-voter is promoted once its log has caught up with the
//     leader's (replication.CatchUpSlack).
func (f *fed) syncMembers(group string, g raftMembers, belongs func(transport.Entry) bool, fed map[string]bool) {
	if !g.IsLeader() {
		return
	}
	servers, err := g.Servers()
	if err != nil {
		return
	}
	have := map[raft.ServerID]raft.Server{}
	voters := 0
	for _, s := range servers {
		have[s.ID] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	for _, s := range servers {
		e, ok := f.roster.ByName(string(s.ID))
		if ok && s.Suffrage != raft.Voter && fed[e.PeerID.String()] && e.Role != transport.RoleCentral {
			if err := g.RemoveServer(s.ID); err != nil {
				f.log.Warn("removing a fed holder from the group", "group", group, "member", s.ID, "error", err)
				return
			}
			f.log.Info("removed a non-voter that holds the shard as a fed holder", "group", group, "member", s.ID)
			delete(have, s.ID)
			continue
		}
		if ok && (transport.ServerAddress(e.PeerID) == s.Address || s.Suffrage != raft.Voter) {
			continue // a non-voter's address moves with AddNonvoter below
		}
		if s.Suffrage == raft.Voter && voters == 1 {
			f.log.Error("the last voter of the group is no longer in the roster; it stays", "group", group, "member", s.ID)
			continue
		}
		if err := g.RemoveServer(s.ID); err != nil {
			f.log.Warn("removing member no longer in the roster", "group", group, "member", s.ID, "error", err)
			return
		}
		f.log.Info("removed member no longer in the roster", "group", group, "member", s.ID, "voter", s.Suffrage == raft.Voter)
		if s.Suffrage == raft.Voter {
			return // one change of voters at a time; the next tick sees the new configuration
		}
		delete(have, s.ID)
	}
	for _, e := range f.roster.List() {
		if !belongs(e) || fed[e.PeerID.String()] && e.Role != transport.RoleCentral {
			continue
		}
		addr := transport.ServerAddress(e.PeerID)
		s, ok := have[raft.ServerID(e.Name)]
		if ok && (s.Address == addr || s.Suffrage == raft.Voter) {
			continue
		}
		if err := g.AddNonvoter(raft.ServerID(e.Name), addr); err != nil {
			f.log.Warn("adding non-voter", "group", group, "member", e.Name, "error", err)
		} else {
			f.log.Info("added non-voter", "group", group, "member", e.Name, "central", e.Role == transport.RoleCentral)
		}
	}
	for _, e := range f.roster.List() {
		s, ok := have[raft.ServerID(e.Name)]
		if e.Role != transport.RoleCentral || !ok || s.Suffrage == raft.Voter || s.Address != transport.ServerAddress(e.PeerID) {
			continue
		}
		err := g.Promote(s.ID, s.Address)
		switch {
		case err == nil:
			f.log.Info("central member caught up: promoted to voter", "group", group, "member", e.Name)
			return
		case errors.Is(err, replication.ErrNotCaughtUp):
			f.log.Debug("central member still catching up", "group", group, "member", e.Name, "error", err)
		default:
			f.log.Warn("promoting central member", "group", group, "member", e.Name, "error", err)
		}
	}
}

func (f *fed) close() {
	close(f.stop)
	f.wg.Wait()
	if f.gossip != nil {
		f.gossip.close()
	}
}
