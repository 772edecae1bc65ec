package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/audit"
	"github.com/fedarms/fedarms/notify"
	"github.com/fedarms/fedarms/transport"
)

// A hit travels from its origin to each recipient directly over libp2p: the recipient stores it
// (once: its inbox dedupes by id) and answers with the time it stored it, which is the end-to-end
// receipt the origin records. Until every receipt is in, the hit stays in the origin's outbox and
// is retried with backoff; nothing is dropped for age.

type message struct {
	Kind     string           `json:"kind"` // hit, decision, carry (a hit to deliver for its origin) or receipt
	Role     string           `json:"role"` // the recipient role the sender addresses
	Hit      *notify.Hit      `json:"hit,omitempty"`
	Decision *notify.Decision `json:"decision,omitempty"`
	Trace    *notify.Trace    `json:"trace,omitempty"`
	// For a receipt carried back to the origin:
	HitID    string    `json:"hit_id,omitempty"`
	StoredAt time.Time `json:"stored_at,omitzero"`
}

type messageAnswer struct {
	StoredAt time.Time `json:"stored_at"`
}

// deliverer retries undelivered hits and decisions.
type deliverer struct {
	kick    chan struct{}
	mu      sync.Mutex // guards backoff
	backoff map[string]retry
}

type retry struct {
	next  time.Time
	delay time.Duration
}

func (n *Node) kickDelivery() {
	if n.deliver == nil {
		return
	}
	select {
	case n.deliver.kick <- struct{}{}:
	default:
	}
}

func (n *Node) runDelivery() {
	defer n.fed.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.fed.stop:
			return
		case <-t.C:
		case <-n.deliver.kick:
		}
		n.deliverOnce()
	}
}

// due reports whether key may be tried now; failed marks a failed try (exponential backoff, 250 ms
// doubling to 5 s), done forgets it. A new connection to any member clears every backoff (reset):
// a healed link is used at once, not after the retry delay an outage has built up.
func (d *deliverer) due(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Now().After(d.backoff[key].next)
}

func (d *deliverer) failed(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.backoff[key]
	r.delay = min(max(2*r.delay, 250*time.Millisecond), 5*time.Second)
	r.next = time.Now().Add(r.delay)
	d.backoff[key] = r
}

// hold keeps key from being tried for a while.
func (d *deliverer) hold(key string, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.backoff[key] = retry{next: time.Now().Add(wait), delay: wait}
}

func (d *deliverer) reset() {
	d.mu.Lock()
	clear(d.backoff)
	d.mu.Unlock()
}

func (d *deliverer) done(key string) {
	d.mu.Lock()
	delete(d.backoff, key)
	d.mu.Unlock()
}

func (n *Node) deliverOnce() {
	out, err := n.hits.Outbox(n.cfg.Name)
	if err != nil {
		n.log.Error("reading the outbox", "error", err)
		return
	}
	for i := range out {
		h := &out[i]
		for _, role := range []string{notify.RoleGS, notify.RoleNCB} {
			key := h.ID + "/" + role
			if h.Receipts[role] != "" || !n.deliver.due(key) {
				continue
			}
			at, err := n.send(role, h.RecordingCountry, message{Kind: "hit", Role: role, Hit: h})
			if err != nil {
				n.deliver.failed(key)
				n.handToCarrier(h, role)
				continue
			}
			n.deliver.done(key)
			if err := n.hits.SetReceipt(h.ID, role, at); err != nil {
				n.log.Error("recording a receipt", "hit", h.ID, "role", role, "error", err)
			}
			n.met.delivery.Observe(time.Since(h.SearchedAt).Seconds())
		}
	}
	n.deliverCarried()
	n.deliverTraces()
	decisions, err := n.hits.DecisionsOut()
	if err != nil {
		n.log.Error("reading decisions to deliver", "error", err)
		return
	}
	for _, pd := range decisions {
		key := "decision/" + pd.Decision.HitID + "/" + pd.Role
		if !n.deliver.due(key) {
			continue
		}
		h, err := n.hits.Get(pd.Decision.HitID)
		if err != nil {
			continue
		}
		d := pd.Decision
		var sendErr error
		if pd.Role == notify.RoleOrigin {
			if e, ok := n.fed.roster.ByName(h.Origin); ok {
				_, sendErr = n.sendTo([]peer.ID{e.PeerID}, message{Kind: "decision", Role: notify.RoleOrigin, Decision: &d})
			} else {
				sendErr = fmt.Errorf("origin %s is not in the roster", h.Origin)
			}
		} else {
			_, sendErr = n.send(pd.Role, h.RecordingCountry, message{Kind: "decision", Role: pd.Role, Decision: &d})
		}
		if sendErr != nil {
			n.deliver.failed(key)
			continue
		}
		n.deliver.done(key)
		_ = n.hits.DecisionDelivered(d.HitID, pd.Role)
	}
}

// recipients are the members that play role for a record of country, connected ones first.
func (n *Node) recipients(role, country string) []peer.ID {
	var out []peer.ID
	for _, e := range n.fed.roster.List() {
		if e.PeerID == n.fed.id.ID {
			continue
		}
		switch {
		case role == notify.RoleGS && e.Role == transport.RoleCentral,
			role == notify.RoleNCB && e.Role == transport.RoleNCB && e.Country == country:
			out = append(out, e.PeerID)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return n.fed.host.Connected(out[i]) && !n.fed.host.Connected(out[j]) })
	return out
}

func (n *Node) send(role, country string, m message) (time.Time, error) {
	targets := n.recipients(role, country)
	if len(targets) == 0 {
		return time.Time{}, fmt.Errorf("no member plays %s for %s", role, country)
	}
	return n.sendTo(targets, m)
}

// sendTo tries each target in turn until one stores the message.
func (n *Node) sendTo(targets []peer.ID, m message) (time.Time, error) {
	var err error
	for _, p := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var ans messageAnswer
		err = n.fed.call(ctx, p, transport.ProtoMessage, m, &ans)
		cancel()
		if err == nil {
			return ans.StoredAt, nil
		}
	}
	return time.Time{}, err
}

// serveMessages stores hits and decisions delivered by other members.
func (n *Node) serveMessages() error {
	return serve(n.fed, transport.ProtoMessage, func(ctx context.Context, from peer.ID, m *message) (any, error) {
		e, ok := n.fed.roster.Get(from)
		if !ok {
			return nil, errf(403, "forbidden", "peer %s is not a member", from)
		}
		switch m.Kind {
		case "hit":
			if m.Hit == nil || !n.playsRole(m.Role, m.Hit) {
				return nil, errf(400, "bad_request", "%s does not play %s for this hit", n.cfg.Name, m.Role)
			}
			at, err := n.hits.Receive(*m.Hit, m.Role)
			if err != nil {
				return nil, err
			}
			n.audit.Append(audit.Entry{Agency: "member:" + e.Name, Action: "hit.received", ResultIDs: []string{m.Hit.ID, m.Hit.RecordID}, Outcome: "ok"})
			return messageAnswer{StoredAt: at}, nil
		case "trace":
			return n.receiveTrace(e, m)
		case "carry":
			if m.Hit == nil {
				return nil, errf(400, "bad_request", "hit missing")
			}
			if err := n.hits.Carry(*m.Hit, m.Role); err != nil {
				return nil, err
			}
			n.kickDelivery()
			return messageAnswer{StoredAt: time.Now().UTC()}, nil
		case "receipt":
			if err := n.hits.SetReceipt(m.HitID, m.Role, m.StoredAt); err != nil {
				return nil, err
			}
			return messageAnswer{StoredAt: time.Now().UTC()}, nil
		case "decision":
			if m.Decision == nil {
				return nil, errf(400, "bad_request", "decision missing")
			}
			if err := n.hits.ReceiveDecision(*m.Decision); err != nil {
				return nil, errf(503, "unavailable", "%v", err) // the hit may not have arrived yet: retried
			}
			n.audit.Append(audit.Entry{Agency: "member:" + e.Name, Action: "hit.decision.received", ResultIDs: []string{m.Decision.HitID}, Outcome: m.Decision.Decision})
			return messageAnswer{StoredAt: time.Now().UTC()}, nil
		}
		return nil, errf(400, "bad_request", "unknown message kind %q", m.Kind)
	})
}

// handToCarrier gives a hit that no recipient of role could take to a member this node can reach
// (one that does not play role itself: it has already been tried), at most once per 10 s.
func (n *Node) handToCarrier(h *notify.Hit, role string) {
	key := "carry/" + h.ID + "/" + role
	if !n.deliver.due(key) {
		return
	}
	tried := map[peer.ID]bool{}
	for _, p := range n.recipients(role, h.RecordingCountry) {
		tried[p] = true
	}
	var carriers []peer.ID
	for _, e := range n.fed.roster.List() {
		if e.PeerID != n.fed.id.ID && !tried[e.PeerID] {
			carriers = append(carriers, e.PeerID)
		}
	}
	sort.SliceStable(carriers, func(i, j int) bool {
		return n.fed.host.Connected(carriers[i]) && !n.fed.host.Connected(carriers[j])
	})
	for _, p := range carriers {
		if _, err := n.sendTo([]peer.ID{p}, message{Kind: "carry", Role: role, Hit: h}); err == nil {
			n.log.Info("hit handed to a carrier", "hit", h.ID, "role", role, "carrier", p)
			n.deliver.hold(key, 10*time.Second)
			return
		}
	}
}

// deliverCarried delivers the hits this node carries for others, then carries each receipt back.
func (n *Node) deliverCarried() {
	items, err := n.hits.CarriedItems()
	if err != nil {
		n.log.Error("reading carried hits", "error", err)
		return
	}
	for _, c := range items {
		key := "carried/" + c.Hit.ID + "/" + c.Role
		if !n.deliver.due(key) {
			continue
		}
		if c.StoredAt.IsZero() {
			var at time.Time
			if n.playsRole(c.Role, &c.Hit) {
				at, err = n.hits.Receive(c.Hit, c.Role)
			} else {
				at, err = n.send(c.Role, c.Hit.RecordingCountry, message{Kind: "hit", Role: c.Role, Hit: &c.Hit})
			}
			if err != nil {
				n.deliver.failed(key)
				continue
			}
			c.StoredAt = at
			_ = n.hits.CarryDelivered(c.Hit.ID, c.Role, at)
		}
		origin, ok := n.fed.roster.ByName(c.Hit.Origin)
		if !ok {
			continue
		}
		if _, err := n.sendTo([]peer.ID{origin.PeerID}, message{Kind: "receipt", Role: c.Role, HitID: c.Hit.ID, StoredAt: c.StoredAt}); err != nil {
			n.deliver.failed(key)
			continue
		}
		n.deliver.done(key)
		_ = n.hits.CarryDone(c.Hit.ID, c.Role)
	}
}
