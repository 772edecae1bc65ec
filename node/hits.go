package node

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// newHit makes the notification of one hit found by a search on this node. The receipts of the
// roles this node itself plays are in at once: it stores the hit durably before the answer leaves.
func (n *Node) newHit(res *wire.SearchResult, searchID string, p auth.Principal, req wire.SearchRequest, now time.Time) notify.Hit {
	deadline := n.cfg.Notify.Routine.Duration
	if req.Urgent {
		deadline = n.cfg.Notify.Urgent.Duration
	}
	h := notify.Hit{ID: newID("h"), RecordID: res.ID, RecordingCountry: res.Record.RecordingCountry,
		SearchID: searchID, Origin: n.cfg.Name, Agency: p.Agency, OnBehalfOf: req.OnBehalfOf,
		SearchedAt: now, Score: res.Score, Why: res.Why.Map(), Urgent: req.Urgent, Deadline: now.Add(deadline),
		Decision: notify.Pending, Receipts: map[string]string{notify.RoleGS: "", notify.RoleNCB: "", notify.RoleOrigin: ""}}
	stamp := now.Format(time.RFC3339Nano)
	for _, role := range n.ownRoles(h.RecordingCountry) {
		h.Receipts[role] = stamp
	}
	return h
}

// ownRoles are the recipient roles this node stamps on a hit it makes on a record of country: always
// the origin; the NCB on the recording country's NCB node; every role on a one-node federation. A
// central node's hit gets its GS receipt from the GS inbox, once committed there (inbox.go).
func (n *Node) ownRoles(country string) []string {
	roles := []string{notify.RoleOrigin}
	if n.fed == nil {
		return append(roles, notify.RoleGS, notify.RoleNCB)
	}
	if n.cfg.Role == "ncb" && n.cfg.Country == country {
		roles = append(roles, notify.RoleNCB)
	}
	return roles
}

// visible says whether a principal may see a hit: the General Secretariat (admin, operator) all of
// them, an NCB the hits on its country's records, a searching agency its own.
func visible(p auth.Principal, h *notify.Hit) bool {
	switch {
	case p.Has("admin"), p.Has("operator") && p.Country == "":
		return true
	case p.Country != "" && p.Country == h.RecordingCountry && p.Has("recorder"):
		return true
	}
	return h.Agency == p.Agency || (h.OnBehalfOf != "" && h.OnBehalfOf == p.Agency)
}

// Hit is the hit id, when p may see it.
func (n *Node) Hit(p auth.Principal, id string) (notify.Hit, error) {
	h, err := n.hits.Get(id)
	if errors.Is(err, notify.ErrNotFound) || (err == nil && !visible(p, &h)) {
		return notify.Hit{}, wire.Errorf(wire.NotFound, "not_found", "no hit %q visible to %s on this node", id, p.Agency)
	}
	return h, err
}

// Hits lists a page of the stored hits p may see that pass f, newest first.
func (n *Node) Hits(p auth.Principal, f wire.HitFilter) (wire.HitPage, error) {
	now := n.now()
	page, err := n.hits.ListPage(func(h *notify.Hit) bool {
		if !visible(p, h) {
			return false
		}
		switch f.Status {
		case "overdue":
			return h.Overdue(now)
		case "undelivered":
			return !h.Delivered()
		case "":
			return true
		}
		return h.Decision == f.Status
	}, f.Since, f.Cursor, f.Limit)
	if errors.Is(err, notify.ErrBadCursor) {
		return wire.HitPage{}, wire.FieldError("cursor", "cursor: not one this node handed out; start again without it")
	}
	if page.Hits == nil {
		page.Hits = []notify.Hit{}
	}
	return wire.HitPage{Hits: page.Hits, Cursor: page.Cursor}, err
}

// WatchHits feeds every hit stored or changed on this node from now on that p may see, until stop
// is called. Like the store's feed, it drops hits a slow reader has no room for.
func (n *Node) WatchHits(p auth.Principal) (<-chan notify.Hit, func()) {
	all, unsubscribe := n.hits.Subscribe()
	out := make(chan notify.Hit, cap(all))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case h := <-all:
				if !visible(p, &h) {
					continue
				}
				select {
				case out <- h:
				case <-done:
					return
				}
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			unsubscribe()
			close(done)
		})
	}
}

// Decide records the owning NCB's decision on hit id, as p, and routes it to the origin and the
// NCB's other nodes. A decision is taken once: in a federation the GS inbox is the arbiter (the
// first decision committed there on a hit is the one in force on every node), so a second,
// different one is refused (409 already_decided, naming the one in force), the same one again is
// answered as the first, and without the GS inbox (no central node reachable, or no quorum) the
// answer is 503: a decision never has two winners. Every attempt is audited.
func (n *Node) Decide(ctx context.Context, p auth.Principal, id string, req wire.DecisionRequest) (notify.Hit, error) {
	h, err := n.hits.Get(id)
	if errors.Is(err, notify.ErrNotFound) {
		return notify.Hit{}, wire.Errorf(wire.NotFound, "not_found", "no hit %q on this node", id)
	}
	if err != nil {
		return notify.Hit{}, err
	}
	if !p.Has("admin") && !(p.Has("recorder") && p.Country == h.RecordingCountry) {
		return notify.Hit{}, wire.Errorf(wire.Forbidden, "forbidden", "only the NCB of %s decides on this hit", h.RecordingCountry)
	}
	d := notify.Decision{HitID: id, Decision: strings.ToLower(req.Decision), Comment: req.Comment,
		DecidedBy: p.Agency, DecidedVia: n.cfg.Name, DecidedAt: n.now().UTC()}
	if d.Decision != notify.Confirmed && d.Decision != notify.Denied {
		return h, wire.FieldError("decision", notify.ErrBadDecision.Error())
	}
	// Every attempt is audited; one that is answered as taken waits until its entry is durable.
	entry := func(outcome string) audit.Entry {
		return audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "hit.decision",
			Query: mustJSON(req), ResultIDs: []string{id}, Outcome: outcome}
	}
	audited := func(outcome string) error { return n.auditDurably(context.WithoutCancel(ctx), entry(outcome)) }
	if n.fed == nil {
		h, err = n.decideAudited(ctx, entry("ok"), func(tx *bolt.Tx) (notify.Hit, error) { return notify.DecideTx(tx, d, nil) })
		if errors.Is(err, notify.ErrDecided) {
			audited("refused: already " + h.Decision)
			return h, alreadyDecided(&h)
		}
		return h, err
	}
	if h.Decision != notify.Pending && h.Decision != "" {
		if h.Decision == d.Decision {
			return h, audited("ok: already " + h.Decision)
		}
		audited("refused: already " + h.Decision)
		return h, alreadyDecided(&h)
	}
	winner, err := n.arbitrate(ctx, d)
	if err != nil {
		audited("unavailable")
		n.log.Warn("decision not recorded: the GS inbox did not answer", "hit", id, "error", err)
		return h, wire.Wrap(err, wire.Unavailable, "unavailable",
			"the decision was not recorded: no central node could commit it now ("+err.Error()+"); send it again").Retry(2)
	}
	// The node whose decision won delivers it (to the origin and the NCB's other nodes), so every
	// copy names the same node it came through; the GS has it already.
	var to []string
	if winner.DecidedVia == n.cfg.Name {
		if h.Origin != n.cfg.Name {
			to = append(to, notify.RoleOrigin)
		}
		for _, s := range n.ncbNodes(h.RecordingCountry) {
			to = append(to, siblingRole+s)
		}
	}
	if winner.Decision != d.Decision {
		if h, err = n.hits.Settle(winner, to); err != nil {
			return h, err
		}
		n.kickDelivery()
		audited("refused: already " + winner.Decision)
		return h, alreadyDecided(&h)
	}
	// The decision taken here and its entry commit together.
	h, err = n.decideAudited(ctx, entry("ok"), func(tx *bolt.Tx) (notify.Hit, error) { return notify.SettleTx(tx, winner, to) })
	n.kickDelivery()
	return h, err
}

// decideAudited makes change and appends e in one node.db transaction, so a decision is never
// stored without its audit entry nor the entry without it, and waits until both are durable. A
// change that fails writes neither: its error comes back, with the hit as it stands.
func (n *Node) decideAudited(ctx context.Context, e audit.Entry, change func(*bolt.Tx) (notify.Hit, error)) (notify.Hit, error) {
	var h notify.Hit
	changeErr, err := n.changeAudited(ctx, e, func(tx *bolt.Tx) error {
		var err error
		h, err = change(tx)
		return err
	})
	if changeErr != nil {
		return h, changeErr
	}
	if err != nil {
		return h, err
	}
	n.hits.Published(h)
	return h, nil
}

// alreadyDecided is the refusal of a decision other than the one in force on h.
func alreadyDecided(h *notify.Hit) error {
	return wire.Errorf(wire.Conflict, "already_decided", "hit %s was already %s by %s (via %s) at %s; a decision is taken once",
		h.ID, h.Decision, h.DecidedBy, h.DecidedVia, h.DecidedAt.Format(time.RFC3339))
}

// arbitrate asks the GS inbox which decision is in force on d's hit once d is recorded: d, or the
// one committed before it. An older central node records what it is sent and names none: d.
func (n *Node) arbitrate(ctx context.Context, d notify.Decision) (notify.Decision, error) {
	if n.fed.inbox != nil {
		o, err := n.toInbox(ctx, notify.InboxItem{Kind: notify.InboxDecision, Decision: &d})
		if err != nil {
			return d, err
		}
		if o.Winner == nil {
			return d, nil
		}
		return *o.Winner, nil
	}
	sig, err := notify.SignDecision(n.signer(), n.cfg.Name, &d)
	if err != nil {
		return d, err
	}
	ans, err := n.send(notify.RoleGS, "", message{Kind: "decision", Role: notify.RoleGS, Decision: &d, Sig: sig})
	if err != nil {
		return d, err
	}
	if ans.Decision == nil {
		return d, nil
	}
	return *ans.Decision, nil
}

// playsRole says whether this node is itself a recipient of role for h: the origin, the GS on a
// central node, the NCB on a node of the recording country's NCB.
func (n *Node) playsRole(role string, h *notify.Hit) bool {
	switch role {
	case notify.RoleOrigin:
		return h.Origin == n.cfg.Name
	case notify.RoleGS:
		return n.fed == nil || n.cfg.Role == "central"
	case notify.RoleNCB:
		return n.fed == nil || (n.cfg.Role == "ncb" && n.cfg.Country == h.RecordingCountry)
	}
	return false
}

// hitCounts reads the stored hits once for the two numbers operators watch: the hits this node made
// that still wait for a recipient's receipt (its outbox), and the hits stored here whose NCB decision
// is past its deadline.
func (n *Node) hitCounts() (outbox, overdue int) {
	outbox, overdue, err := n.hits.Counts(n.cfg.Name, n.now())
	if err != nil {
		n.log.Error("counting hits", "error", err)
	}
	return outbox, overdue
}
