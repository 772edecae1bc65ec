package node

import (
	"errors"
	"fmt"
	"log"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// gossip is the node's memberlist over libp2p: it spreads each member's health (role, shards with
// applied index and lag, outbox depth, last contact with a central node, version).
type gossip struct {
	ml *memberlist.Memberlist
	gt *transport.GossipTransport
	// clock stamps when a member's signed health was heard (the node's); gt.LastHeard is the
	// transport's wall clock (spoke compares the two).
	clock clock.Clock
	stop  chan struct{}
	done  chan struct{}

	// memberlist's Members() hands out pointers it keeps writing to, so the node keeps its own
	// copies, fed by memberlist's events (which run under memberlist's lock).
	mu   sync.Mutex // guards seen
	seen map[string]seenMember

	// lastAt is the At of the health this node last published: it only moves forward, so a
	// receiver can refuse older health replayed in this node's name.
	lastAt atomic.Int64

	// refused records health gossiped in a member's name that the member did not publish.
	refused func(name, reason string, err error)
}

// seenMember is what this node knows of another member from gossip. Health is the member's own
// word (signed, or from an older release that does not sign); state is memberlist's, which any
// member can sway (gossip is relayed, and dead and suspect messages are not signed).
type seenMember struct {
	state  memberlist.NodeStateType
	health transport.Health
	hasH   bool      // health decoded
	signed bool      // health signed by the member: trusted for routing
	heard  time.Time // when this node last received health from the member newer than it had
}

// healthRefresh is how often a member republishes its health; each refresh changes its metadata
// (Health.At), so the others hear from every live member at this pace.
const healthRefresh = 2 * time.Second

// suspectAfter is how long a member memberlist still counts alive may go unheard before it is
// reported suspect: two refreshes missed, plus a second for gossip to spread one. memberlist has a
// suspect state of its own but reports it to no delegate (its events say only joined, updated,
// left), so the node derives the operator's "suspect" from silence.
const suspectAfter = 2*healthRefresh + time.Second

// NotifyJoin records a member that joined (or came back). The events say what happened; the
// Node's own State field is not kept current by memberlist.
func (g *gossip) NotifyJoin(m *memberlist.Node) { g.heardFrom(m) }

// NotifyLeave records a member that left or was declared dead; its last health stays.
func (g *gossip) NotifyLeave(m *memberlist.Node) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sm := g.seen[m.Name]
	sm.state = memberlist.StateDead
	g.seen[m.Name] = sm
}

// NotifyUpdate records a member's new metadata.
func (g *gossip) NotifyUpdate(m *memberlist.Node) { g.heardFrom(m) }

// heardFrom records a member memberlist counts alive, and its health when it is newer than what
// this node has: signed health whose At does not move forward is a replay (or arrived out of
// order) and is not taken. memberlist's HealthGuard already refused forged health.
func (g *gossip) heardFrom(m *memberlist.Node) {
	h, err := transport.VerifyHealth(m.Name, m.Meta)
	signed := err == nil
	decoded := signed || errors.Is(err, transport.ErrHealthUnsigned)
	g.mu.Lock()
	defer g.mu.Unlock()
	sm := g.seen[m.Name]
	sm.state = memberlist.StateAlive
	switch {
	case !decoded:
	case sm.signed && (!signed || h.At <= sm.health.At):
		if signed && h.At < sm.health.At && g.refused != nil {
			go g.refused(m.Name, "stale_health", fmt.Errorf("health of %s published at %d, after health published at %d (sender unknown: gossip is relayed)",
				m.Name, h.At, sm.health.At))
		}
	default:
		sm.health, sm.hasH, sm.signed, sm.heard = h, true, signed, g.clock.Now()
	}
	g.seen[m.Name] = sm
}

// spoke is when member p last spoke for itself: a gossip packet from p over its own authenticated
// stream, or new health it signed. Unsigned health (from an older release, or forged in its name)
// is not its word.
func (g *gossip) spoke(p peer.ID, sm seenMember) time.Time {
	t := g.gt.LastHeard(p)
	if sm.signed && sm.heard.After(t) {
		t = sm.heard
	}
	return t
}

// nextAt is the At of health published now: the clock, or just after the last one if the clock
// went back.
func (g *gossip) nextAt(now int64) int64 {
	for {
		last := g.lastAt.Load()
		at := max(now, last+1)
		if g.lastAt.CompareAndSwap(last, at) {
			return at
		}
	}
}

func (g *gossip) snapshot() map[string]seenMember {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]seenMember, len(g.seen))
	for k, v := range g.seen {
		out[k] = v
	}
	return out
}

func (n *Node) startGossip() error {
	f := n.fed
	gt, err := transport.NewGossipTransport(f.host)
	if err != nil {
		return err
	}
	mc := transport.GossipConfig(f.host, gt)
	mc.Delegate = transport.HealthDelegate{Current: n.gossipHealth, Identity: f.id}
	// memberlist tags its lines ([DEBUG], [WARN], [ERR]): keep its levels, so a warning is one.
	mc.Logger = log.New(replication.LogWriter(n.log.With("subsystem", "memberlist")), "", 0)
	mc.LogOutput = nil
	g := &gossip{gt: gt, clock: n.clock, stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]seenMember{}}
	g.refused = func(name, reason string, err error) {
		id, _ := peer.Decode(name)
		n.refused(id, transport.ProtoGossipPacket, reason, err)
	}
	// The guard runs under memberlist's lock: the refusal (which may wait for the audit queue)
	// is recorded beside it.
	mc.Alive = &transport.HealthGuard{Refused: func(name string, err error) {
		go g.refused(name, "forged_health", fmt.Errorf("alive message for %s (sender unknown: gossip is relayed): %w", name, err))
	}}
	mc.Events = g
	ml, err := memberlist.Create(mc)
	if err != nil {
		return err
	}
	g.ml = ml
	f.gossip = g
	go g.keepJoined(n)
	return nil
}

// keepJoined joins the other members whenever this node sees fewer than the roster holds (at
// start, and after an outage in which the others declared it dead), and refreshes the health it
// gossips.
func (g *gossip) keepJoined(n *Node) {
	defer close(g.done)
	t := n.clock.NewTicker(healthRefresh)
	defer t.Stop()
	for {
		members := n.fed.roster.List()
		if g.ml.NumMembers() < len(members) {
			var addrs []string
			for _, e := range members {
				if e.PeerID != n.fed.id.ID {
					addrs = append(addrs, transport.JoinAddress(e.PeerID))
				}
			}
			_, _ = g.ml.Join(addrs)
		}
		n.syncWriteFormats() // a finalize ordered elsewhere, or restored from a snapshot
		n.readers.update(n.Members())
		_ = g.ml.UpdateNode(time.Second)
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
	}
}

func (g *gossip) close() {
	close(g.stop)
	<-g.done
	_ = g.ml.Leave(time.Second)
	_ = g.ml.Shutdown()
}

// commandFormat is the raft command format this node writes: the one finalized in the control
// group, at most the newest this release writes; format 1 before any finalize.
func (n *Node) commandFormat() byte {
	f := replication.CommandFormatLegacy
	if n.fed != nil && n.fed.control != nil {
		if v := n.fed.control.Upgrade().Formats["raft_command"]; v > int(f) {
			f = byte(min(v, int(replication.CommandFormatNewest)))
		}
	}
	return f
}

// syncWriteFormats tells every shard group the command format to write. It runs at start, after a
// finalize, and with every gossip refresh (which also catches a finalize ordered elsewhere).
func (n *Node) syncWriteFormats() {
	f := n.commandFormat()
	for _, g := range n.groups {
		if err := g.SetCommandFormat(f); err != nil {
			n.log.Error("command format not set", "error", err)
		}
	}
}

// formatWritten is what this node writes of a kind now.
func (n *Node) formatWritten(k formatKind) int {
	switch k.name {
	case "raft_command":
		return int(n.commandFormat())
	case "data_dir":
		return DataFormat
	}
	return k.oldest
}

// gossipFormats is this node's formats as its health publishes them.
func (n *Node) gossipFormats() string {
	out := make(map[string]transport.FormatRange, len(formatKinds))
	for _, k := range formatKinds {
		out[k.short] = transport.FormatRange{Oldest: k.oldest, Newest: k.newest, Writes: n.formatWritten(k)}
	}
	return transport.EncodeFormats(out)
}

// gossipHealth is what this node tells the others about itself.
func (n *Node) gossipHealth() transport.Health {
	outbox, overdue := n.hitCounts()
	h := transport.Health{Role: n.fed.self.Role, Country: n.fed.self.Country, Version: Version, Outbox: outbox, Overdue: overdue,
		Formats: n.gossipFormats(), At: n.now().UnixMilli()}
	if g := n.fed.gossip; g != nil {
		h.At = g.nextAt(h.At)
	}
	var lastCentral time.Time
	for _, s := range n.allHeld() {
		c := n.copies[s]
		applied, contact := c.Freshness()
		_, fed := c.(fedShard)
		h.Shards = append(h.Shards, transport.ShardHealth{Shard: s, Applied: applied, LagSeconds: lagSeconds(contact, n.now()),
			Digest: shortDigest(c.State().Stats().Digest.String()), Fed: fed})
		if contact.After(lastCentral) {
			lastCentral = contact
		}
	}
	if !lastCentral.IsZero() {
		h.LastCentral = lastCentral.Unix()
	}
	return h
}

// Members reports every roster member with what gossip says of it.
func (n *Node) Members() []wire.Member {
	if n.fed == nil {
		h := n.localHealthAsMember()
		return []wire.Member{h}
	}
	states := map[peer.ID]seenMember{}
	if n.fed.gossip != nil {
		for name, m := range n.fed.gossip.snapshot() {
			if id, err := peer.Decode(name); err == nil {
				states[id] = m
			}
		}
	}
	var out []wire.Member
	best := map[string]uint64{}
	for _, e := range n.fed.roster.List() {
		m := wire.Member{Name: e.Name, PeerID: e.PeerID.String(), Role: string(e.Role), Country: e.Country, Status: "dead", Addrs: e.Addrs}
		var h transport.Health
		var ok bool
		if e.PeerID == n.fed.id.ID {
			m.Self, m.Status = true, "alive"
			h, ok = n.gossipHealth(), true
		} else if st, seen := states[e.PeerID]; seen {
			m.Status = memberStatus(st.state, n.since(n.fed.gossip.spoke(e.PeerID, st)))
			h, ok = st.health, st.hasH
			m.Unsigned = st.hasH && !st.signed
		}
		if !m.Self {
			m.Conn, m.ConnAddrs = n.fed.peerConn(e.PeerID)
		}
		if ok {
			m.Outbox, m.Overdue, m.Version = h.Outbox, h.Overdue, h.Version
			m.Formats, m.FormatsReported = memberFormats(h)
			if h.LastCentral > 0 {
				m.LastCentral = time.Unix(h.LastCentral, 0).UTC()
			}
			for _, s := range h.Shards {
				m.Shards = append(m.Shards, wire.MemberShard{Shard: s.Shard, Applied: s.Applied, LagSeconds: s.LagSeconds, Digest: s.Digest})
				best[s.Shard] = max(best[s.Shard], s.Applied)
			}
		}
		out = append(out, m)
	}
	for i := range out {
		for j := range out[i].Shards {
			s := &out[i].Shards[j]
			s.LagEntries = best[s.Shard] - s.Applied
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// memberStatus is a member's status as operators see it, unheard being how long ago the member
// last spoke for itself (spoke): within suspectAfter it is alive, whatever memberlist was told (any
// member can gossip that another is dead); beyond, memberlist's state, with a member memberlist
// still counts alive reported as suspect.
func memberStatus(s memberlist.NodeStateType, unheard time.Duration) string {
	if unheard <= suspectAfter {
		return "alive"
	}
	switch s {
	case memberlist.StateAlive:
		if unheard > suspectAfter {
			return "suspect"
		}
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateLeft:
		return "left"
	}
	return "dead"
}

// localHealthAsMember describes a one-node federation as its only member.
func (n *Node) localHealthAsMember() wire.Member {
	outbox, overdue := n.hitCounts()
	m := wire.Member{Name: n.cfg.Name, Role: n.cfg.Role, Country: n.cfg.Country, Status: "alive", Version: Version, Self: true,
		Outbox: outbox, Overdue: overdue}
	m.Formats, m.FormatsReported = memberFormats(transport.Health{Formats: n.gossipFormats()})
	for _, s := range n.allHeld() {
		applied, contact := n.copies[s].Freshness()
		m.Shards = append(m.Shards, wire.MemberShard{Shard: s, Applied: applied, LagSeconds: lagSeconds(contact, n.now()),
			Digest: shortDigest(n.copies[s].State().Stats().Digest.String())})
		m.LastCentral = contact.UTC()
	}
	return m
}

// lagSeconds is how long ago the copy heard from its leader; -1 when it never has.
func lagSeconds(contact, now time.Time) int64 {
	if contact.IsZero() {
		return -1
	}
	return int64(now.Sub(contact).Seconds())
}

// shortDigest is the part of a shard digest members gossip: enough to tell copies apart.
func shortDigest(d string) string { return d[:min(12, len(d))] }
