package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// A hit travels from its origin to each recipient directly over libp2p: the recipient stores it
// (once: its inbox dedupes by id) and answers with the time it stored it, which is the end-to-end
// receipt the origin records. Until every receipt is in, the hit stays in the origin's outbox and
// is retried with backoff; nothing is dropped for age.

type message struct {
	Kind     string           `json:"kind"` // hit, decision, carry (a hit to deliver for its origin), receipt or trace
	Role     string           `json:"role"` // the recipient role the sender addresses
	Hit      *notify.Hit      `json:"hit,omitempty"`
	Decision *notify.Decision `json:"decision,omitempty"`
	Trace    *notify.Trace    `json:"trace,omitempty"`
	// Inbox is an item a central node hands to the GS inbox's leader (kind inbox).
	Inbox *notify.InboxItem `json:"inbox,omitempty"`
	// Anchor is a member's signed audit head (kind anchor); Node and After ask a central node for
	// a page of a node's anchors after a seq (kind anchors).
	Anchor *notify.Anchor `json:"anchor,omitempty"`
	Node   string         `json:"node,omitempty"`
	After  uint64         `json:"after,omitempty"`
	// For a receipt carried back to the origin:
	HitID    string    `json:"hit_id,omitempty"`
	StoredAt time.Time `json:"stored_at,omitzero"`
	// Sig is the author's signature when the sender is not the author: the origin's over a hit
	// (carry, and a carrier's delivery), the recipient's over a receipt a carrier takes back, the
	// deciding node's over a decision. Older nodes neither send nor read it.
	Sig *notify.Signature `json:"sig,omitempty"`
}

type messageAnswer struct {
	StoredAt time.Time `json:"stored_at"`
	// Receipt is the recipient's signature over its receipt, when a carrier delivered the hit.
	Receipt *notify.Signature `json:"receipt,omitempty"`
	// Decision is the decision in force on the hit, in the answer to a decision sent to the GS
	// inbox (or handed to its leader): the first one committed. Older central nodes leave it out.
	Decision *notify.Decision `json:"decision,omitempty"`
	// InboxIndex is the GS inbox's log index of the item a central node handed to its leader, so
	// the central node answers once it holds the item itself.
	InboxIndex uint64 `json:"inbox_index,omitempty"`
	// Anchors is a page of a node's anchors, oldest first (kind anchors).
	Anchors []notify.Anchor `json:"anchors,omitempty"`
}

// deliverer retries undelivered hits and decisions.
type deliverer struct {
	kick    chan struct{}
	mu      sync.Mutex // guards backoff
	backoff map[string]retry
	clock   clock.Clock
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
	t := n.clock.NewTicker(500 * time.Millisecond)
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
	return d.clock.Now().After(d.backoff[key].next)
}

func (d *deliverer) failed(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.backoff[key]
	r.delay = min(max(2*r.delay, 250*time.Millisecond), 5*time.Second)
	r.next = d.clock.Now().Add(r.delay)
	d.backoff[key] = r
}

// hold keeps key from being tried for a while.
func (d *deliverer) hold(key string, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.backoff[key] = retry{next: d.clock.Now().Add(wait), delay: wait}
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
			ans, err := n.deliverHit(h, role)
			if err != nil {
				n.deliver.failed(key)
				n.handToCarrier(h, role)
				continue
			}
			n.deliver.done(key)
			if err := n.hits.SetReceipt(h.ID, role, ans.StoredAt); err != nil {
				n.log.Error("recording a receipt", "hit", h.ID, "role", role, "error", err)
			}
			n.met.delivery.Observe(n.since(h.SearchedAt).Seconds())
		}
	}
	n.deliverCarried()
	n.deliverFanout()
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
		// Signed, so the decision proves its author should it ever travel through another member.
		sig, sendErr := notify.SignDecision(n.signer(), n.cfg.Name, &d)
		m := message{Kind: "decision", Role: pd.Role, Decision: &d, Sig: sig}
		switch {
		case sendErr != nil:
		case pd.Role == notify.RoleOrigin:
			if e, ok := n.fed.roster.ByName(h.Origin); ok {
				_, sendErr = n.sendTo([]peer.ID{e.PeerID}, m)
			} else {
				sendErr = fmt.Errorf("origin %s is not in the roster", h.Origin)
			}
		case strings.HasPrefix(pd.Role, siblingRole):
			// Another node of this NCB: it takes the decision in force as the NCB's.
			m.Role = notify.RoleNCB
			if e, ok := n.fed.roster.ByName(strings.TrimPrefix(pd.Role, siblingRole)); ok {
				_, sendErr = n.sendTo([]peer.ID{e.PeerID}, m)
			} else {
				_ = n.hits.DecisionDelivered(d.HitID, pd.Role) // no longer a member
				continue
			}
		default:
			_, sendErr = n.send(pd.Role, h.RecordingCountry, m)
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

func (n *Node) send(role, country string, m message) (messageAnswer, error) {
	targets := n.recipients(role, country)
	if len(targets) == 0 {
		return messageAnswer{}, fmt.Errorf("no member plays %s for %s", role, country)
	}
	return n.sendTo(targets, m)
}

// sendTo tries each target in turn until one stores the message.
func (n *Node) sendTo(targets []peer.ID, m message) (messageAnswer, error) {
	return n.sendToCtx(context.Background(), targets, m)
}

// sendToCtx is sendTo within ctx: each target gets at most 3 s of it.
func (n *Node) sendToCtx(parent context.Context, targets []peer.ID, m message) (messageAnswer, error) {
	var err error
	for _, p := range targets {
		ctx, cancel := context.WithTimeout(parent, 3*time.Second)
		var ans messageAnswer
		err = n.fed.call(ctx, p, transport.ProtoMessage, m, &ans)
		cancel()
		if err == nil {
			return ans, nil
		}
	}
	return messageAnswer{}, err
}

// refusedBy reports whether err is a member's refusal (forbidden): the message will never be taken as
// it is, so retrying it is pointless.
func refusedBy(err error) bool {
	var re rpcError
	return errors.As(err, &re) && re.remote.Kind == wire.Forbidden
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
	// Signed here, at send time, so hits made before signatures existed are carried too.
	sig, err := notify.SignHit(n.signer(), h)
	if err != nil {
		n.log.Error("signing a hit to carry", "hit", h.ID, "error", err)
		return
	}
	for _, p := range carriers {
		if _, err := n.sendTo([]peer.ID{p}, message{Kind: "carry", Role: role, Hit: h, Sig: sig}); err == nil {
			n.log.Info("hit handed to a carrier", "hit", h.ID, "role", role, "carrier", p)
			n.deliver.hold(key, 10*time.Second)
			return
		}
	}
}

// deliverCarried delivers the hits this node carries for others, with the origin's signature, then
// carries each recipient's signed receipt back. An item a member refuses (one carried before
// signatures existed, or whose receipt an older recipient did not sign) is dropped: the origin still
// holds the hit and retries it.
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
			var ans messageAnswer
			if n.playsRole(c.Role, &c.Hit) {
				// Checked on arrival; checked again for items carried before signatures existed.
				if r := n.verifyHitSig(&c.Hit, c.OriginSig, "unsigned"); r != nil {
					n.log.Warn("dropping a carried hit without its origin's signature", "hit", c.Hit.ID, "origin", c.Hit.Origin, "error", r)
					_ = n.hits.CarryDone(c.Hit.ID, c.Role)
					continue
				}
				if ans.StoredAt, err = n.storeAs(context.Background(), c.Hit, c.Role, c.OriginSig); err == nil {
					ans.Receipt, err = notify.SignReceipt(n.signer(), n.cfg.Name, c.Hit.ID, c.Role, ans.StoredAt)
				}
			} else {
				ans, err = n.send(c.Role, c.Hit.RecordingCountry, message{Kind: "hit", Role: c.Role, Hit: &c.Hit, Sig: c.OriginSig})
			}
			if err != nil {
				n.dropRefusedCarry(c, err)
				n.deliver.failed(key)
				continue
			}
			c.StoredAt, c.Receipt = ans.StoredAt, ans.Receipt
			_ = n.hits.CarryDelivered(c.Hit.ID, c.Role, c.StoredAt, c.Receipt)
		}
		origin, ok := n.fed.roster.ByName(c.Hit.Origin)
		if !ok {
			continue
		}
		if _, err := n.sendTo([]peer.ID{origin.PeerID}, message{Kind: "receipt", Role: c.Role, HitID: c.Hit.ID, StoredAt: c.StoredAt, Sig: c.Receipt}); err != nil {
			n.dropRefusedCarry(c, err)
			n.deliver.failed(key)
			continue
		}
		n.deliver.done(key)
		_ = n.hits.CarryDone(c.Hit.ID, c.Role)
	}
}

// dropRefusedCarry forgets a carried item a member refused for good.
func (n *Node) dropRefusedCarry(c notify.Carried, err error) {
	if !refusedBy(err) {
		return
	}
	n.log.Warn("dropping a carried hit a member refused", "hit", c.Hit.ID, "role", c.Role, "origin", c.Hit.Origin, "error", err)
	_ = n.hits.CarryDone(c.Hit.ID, c.Role)
}
