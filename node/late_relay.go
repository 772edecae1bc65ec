package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// ProtoLate carries two requests: a searching node hands searches to a central node (kind
// handover), and the central node that made a late hit for one of them gives it to the searching
// node (kind hit), which stores it, shows it to the searching agency and answers with its receipt.
// Every caller is taken as hostile: see checkHandover and receiveLateHit.

// lateBatch is the most searches one hand-over carries.
const lateBatch = 100

type lateMessage struct {
	Kind     string         `json:"kind"` // handover or hit
	Searches []lateHandover `json:"searches,omitempty"`
	Hit      *notify.Hit    `json:"hit,omitempty"`
}

type lateAnswer struct {
	// StoredAt is when the searching node stored a late hit (kind hit).
	StoredAt time.Time `json:"stored_at,omitzero"`
	// Refused are the search ids a central node did not keep: beyond the origin's share.
	Refused []string `json:"refused,omitempty"`
}

// serveLate answers ProtoLate.
func (n *Node) serveLate() error {
	return serve(n.fed, transport.ProtoLate, func(ctx context.Context, from peer.ID, m *lateMessage) (any, error) {
		e, ok := n.fed.roster.Get(from)
		if !ok {
			return nil, wire.Errorf(wire.Forbidden, "forbidden", "peer %s is not a member", from)
		}
		var ans any
		var err error
		switch m.Kind {
		case "handover":
			ans, err = n.receiveHandover(e, m)
		case "hit":
			ans, err = n.receiveLateHit(ctx, e, m)
		default:
			err = refuse(wire.Invalid, "malformed", "unknown late message kind %q", m.Kind)
		}
		if r, ok := errors.AsType[*msgRefusal](err); ok {
			n.refused(from, transport.ProtoLate, r.reason, r.err)
			code := "forbidden"
			if r.kind == wire.Invalid {
				code = "bad_request"
			}
			return nil, wire.Errorf(r.kind, code, "%s: %v", r.reason, r.err)
		}
		return ans, err
	})
}

// receiveHandover keeps searches another member hands over, on a central node.
func (n *Node) receiveHandover(from transport.Entry, m *lateMessage) (any, error) {
	fl := n.late.fed
	if fl == nil || fl.handed == nil {
		return nil, refuse(wire.Forbidden, "not_recipient", "%s is no central node: it keeps no late window for others", n.cfg.Name)
	}
	if from.Role == transport.RoleCentral {
		return nil, refuse(wire.Forbidden, "wrong_sender", "%s is a central node: it holds every shard and hands no search over", from.Name)
	}
	if len(m.Searches) == 0 || len(m.Searches) > lateBatch {
		return nil, refuse(wire.Invalid, "malformed", "a hand-over carries 1-%d searches, not %d", lateBatch, len(m.Searches))
	}
	now := n.now()
	var keep []lateHandover
	for i := range m.Searches {
		h := &m.Searches[i]
		if r := n.checkHandover(from, h, now); r != nil {
			return nil, r // one bad search refuses the hand-over: the sender lied or is broken
		}
		if now.Sub(h.At) <= n.cfg.Notify.LateWindow.Duration {
			keep = append(keep, *h)
		}
	}
	refused, err := fl.handed.keep(n.db, keep)
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		n.refused(from.PeerID, transport.ProtoLate, "over_share",
			fmt.Errorf("%d searches beyond %s's share of %d in the late window", len(refused), from.Name, fl.handed.share))
	}
	return lateAnswer{Refused: refused}, nil
}

// checkHandover is what every search handed over must pass: from the node that made it, within
// the bounds of a search (checkSearch), on shards of the shard map, not from the future.
func (n *Node) checkHandover(from transport.Entry, h *lateHandover, now time.Time) *msgRefusal {
	if h.Origin != from.Name {
		return refuse(wire.Forbidden, "wrong_sender", "%s hands over a search it says %q made", from.Name, h.Origin)
	}
	if h.SearchID == "" || len(h.SearchID) > 64 || h.Agency == "" || len(h.Agency) > 256 || len(h.OnBehalfOf) > 256 {
		return refuse(wire.Invalid, "malformed", "a search handed over needs a search_id (1-64 bytes) and an agency (1-256)")
	}
	if h.At.IsZero() || h.At.After(now.Add(time.Minute)) {
		return refuse(wire.Invalid, "malformed", "search %s made at %v, after this node's now", h.SearchID, h.At)
	}
	if h.Request.OnBehalfOf != h.OnBehalfOf {
		return refuse(wire.Invalid, "malformed", "search %s: on_behalf_of differs from its request's", h.SearchID)
	}
	if err := n.checkSearch(&h.Request); err != nil {
		return refuse(wire.Invalid, "malformed", "search %s: %w", h.SearchID, err)
	}
	known := map[string]bool{}
	for _, s := range n.shardMap.Shards() {
		known[s] = true
	}
	if len(h.Shards) == 0 || len(h.Shards) > len(known) {
		return refuse(wire.Invalid, "malformed", "search %s names %d shards", h.SearchID, len(h.Shards))
	}
	for _, s := range h.Shards {
		if !known[s] {
			return refuse(wire.Invalid, "malformed", "search %s: no shard %q", h.SearchID, s)
		}
		known[s] = false // named twice is refused as unknown
	}
	if len(h.Found) > n.cfg.Limits.MaxSearchLimit {
		return refuse(wire.Invalid, "malformed", "search %s found %d records, more than a search answers", h.SearchID, len(h.Found))
	}
	for _, id := range h.Found {
		if id == "" || len(id) > 256 {
			return refuse(wire.Invalid, "malformed", "search %s: a found record id of %d bytes", h.SearchID, len(id))
		}
	}
	return nil
}

// receiveLateHit stores, on the searching node, a late hit a central node made for one of its
// searches: from the central node that made it (its origin), for a search this node made and
// remembers, naming the agency that made it.
func (n *Node) receiveLateHit(ctx context.Context, from transport.Entry, m *lateMessage) (any, error) {
	h := m.Hit
	switch {
	case h == nil:
		return nil, refuse(wire.Invalid, "malformed", "hit missing")
	case h.Validate() != nil:
		return nil, refuse(wire.Invalid, "malformed", "%w", h.Validate())
	case from.Role != transport.RoleCentral || h.Origin != from.Name:
		return nil, refuse(wire.Forbidden, "wrong_sender", "late hit %s of %s from %s (%s): only the central node that made it gives it", h.ID, h.Origin, from.Name, from.Role)
	case !h.Late || h.SearchOrigin != n.cfg.Name:
		return nil, refuse(wire.Invalid, "malformed", "hit %s is not a late hit for a search made at %s", h.ID, n.cfg.Name)
	}
	select {
	case <-n.late.loaded:
	case <-ctx.Done():
		return nil, wire.Errorf(wire.Unavailable, "unavailable", "the late window is still loading").Retry(1)
	}
	if shard, _ := n.shardMap.Shard(h.RecordingCountry); n.copies[shard] != nil {
		return nil, refuse(wire.Forbidden, "not_searcher", "late hit %s on a record of %s, which %s holds and re-checks itself", h.ID, shard, n.cfg.Name)
	}
	s, ok := n.late.search(h.SearchID)
	if !ok || s.Agency != h.Agency || s.OnBehalfOf != h.OnBehalfOf || h.ID != lateHitID(n.cfg.Name, s.ID, h.RecordID) {
		return nil, refuse(wire.Forbidden, "not_searcher", "late hit %s: %s remembers no search %s by %s", h.ID, n.cfg.Name, h.SearchID, h.Agency)
	}
	at, err := n.hits.Receive(*h, notify.RoleOrigin)
	if err != nil {
		return nil, err
	}
	n.late.markSeen(s.ID, h.RecordID)
	n.audit.Append(audit.Entry{Agency: "member:" + from.Name, Action: "hit.received",
		Query: mustJSON(map[string]any{"search_id": h.SearchID, "agency": h.Agency, "late": true}), ResultIDs: []string{h.ID, h.RecordID}, Outcome: "ok"})
	return lateAnswer{StoredAt: at}, nil
}

// lateOutOnce moves the late hits this central node made: into the GS inbox, then, for those whose
// committed copy is this node's, to the searching node, and the NCB's decision after them. A hit
// whose committed copy is another central node's is that node's to deliver: dropped here.
func (n *Node) lateOutOnce() {
	fl := n.late.fed
	items, next, err := n.lateOutItems(fl.outAfter, 500)
	if err != nil {
		n.log.Error("reading late hits", "error", err)
		return
	}
	fl.outAfter = next
	for _, it := range items {
		key := "hit/" + it.Hit.ID
		now := n.now()
		if !fl.due(key, now) {
			continue
		}
		h, err := n.hits.Get(it.Hit.ID)
		if errors.Is(err, notify.ErrNotFound) {
			_, err = n.toInbox(context.Background(), inboxItemOfHit(&it.Hit))
			if err == nil {
				h, err = n.hits.Get(it.Hit.ID)
			}
		}
		if err != nil {
			fl.failed(key, n.now())
			continue
		}
		if h.Origin != n.cfg.Name {
			_ = n.putLateOut(it, true)
			continue
		}
		n.kickDelivery() // the recording NCB's copy leaves from this node's outbox
		if it.DeliveredAt.IsZero() {
			at, err := n.giveLateHit(&h, it.Searcher)
			if err != nil {
				fl.failed(key, n.now())
				continue
			}
			it.DeliveredAt = at
			if err := n.putLateOut(it, false); err != nil {
				n.log.Error("recording a late hit's receipt", "hit", h.ID, "error", err)
			}
		}
		if h.Decision == notify.Pending || h.Decision == "" {
			continue // the searcher hears the decision once there is one
		}
		if err := n.giveLateDecision(&h, it.Searcher); err != nil {
			fl.failed(key, n.now())
			continue
		}
		fl.done(key)
		_ = n.putLateOut(it, true)
	}
}

// giveLateHit gives the searching node its late hit and returns its receipt.
func (n *Node) giveLateHit(h *notify.Hit, searcher string) (time.Time, error) {
	e, ok := n.fed.roster.ByName(searcher)
	if !ok {
		return n.now(), nil // no longer a member: nobody to give it to
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var ans lateAnswer
	if err := n.fed.call(ctx, e.PeerID, transport.ProtoLate, lateMessage{Kind: "hit", Hit: h}, &ans); err != nil {
		if refusedBy(err) {
			n.log.Warn("the searching node refused a late hit", "hit", h.ID, "searcher", searcher, "error", err)
			return n.now(), nil
		}
		return time.Time{}, err
	}
	n.log.Info("late hit given to the searching node", "hit", h.ID, "searcher", searcher, "stored_at", ans.StoredAt)
	return ans.StoredAt, nil
}

// giveLateDecision sends the searching node the decision in force on its late hit, as a central
// node sends any decision (receiveDecision takes one from a central node).
func (n *Node) giveLateDecision(h *notify.Hit, searcher string) error {
	e, ok := n.fed.roster.ByName(searcher)
	if !ok {
		return nil
	}
	d := notify.Decision{HitID: h.ID, Decision: h.Decision, Comment: h.Comment, DecidedBy: h.DecidedBy, DecidedVia: h.DecidedVia, DecidedAt: h.DecidedAt}
	sig, err := notify.SignDecision(n.signer(), n.cfg.Name, &d)
	if err != nil {
		return err
	}
	_, err = n.sendTo([]peer.ID{e.PeerID}, message{Kind: "decision", Role: notify.RoleOrigin, Decision: &d, Sig: sig})
	if refusedBy(err) {
		return nil
	}
	return err
}
