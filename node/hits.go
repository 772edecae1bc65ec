package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/notify"
)

// newHit makes the notification of one hit found by a search on this node. The receipts of the
// roles this node itself plays are in at once: it stores the hit durably before the answer leaves.
func (n *Node) newHit(res *searchResult, searchID string, p auth.Principal, req SearchRequest, now time.Time) notify.Hit {
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

// ownRoles are the recipient roles this node plays for a hit on a record of country: always the
// origin; the General Secretariat on a central node (and on a one-node federation); the NCB on the
// recording country's NCB node (and on a one-node federation).
func (n *Node) ownRoles(country string) []string {
	roles := []string{notify.RoleOrigin}
	if n.fed == nil {
		return append(roles, notify.RoleGS, notify.RoleNCB)
	}
	if n.cfg.Role == "central" {
		roles = append(roles, notify.RoleGS)
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

func (n *Node) handleHitGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	h, err := n.hits.Get(id)
	if errors.Is(err, notify.ErrNotFound) || (err == nil && !visible(p, &h)) {
		return errf(404, "not_found", "no hit %q visible to %s on this node", id, p.Agency)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (n *Node) handleHitList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", notify.Pending, notify.Confirmed, notify.Denied, "overdue", "undelivered":
	default:
		return &apiError{Status: 400, Code: "invalid_field", Field: "status", Message: "status: one of pending, confirmed, denied, overdue, undelivered"}
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return &apiError{Status: 400, Code: "invalid_field", Field: "since", Message: "since: an RFC 3339 time, e.g. 2026-11-25T10:00:00Z"}
		}
		since = t
	}
	now := n.now()
	hits, err := n.hits.List(func(h *notify.Hit) bool {
		if !visible(p, h) || h.SearchedAt.Before(since) {
			return false
		}
		switch status {
		case "overdue":
			return h.Overdue(now)
		case "undelivered":
			return !h.Delivered()
		case "":
			return true
		}
		return h.Decision == status
	})
	if err != nil {
		return err
	}
	if hits == nil {
		hits = []notify.Hit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hits": hits})
	return nil
}

// handleHitStream sends every hit stored or changed on this node that the caller may see, as
// server-sent events, until the client goes away.
func (n *Node) handleHitStream(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return errf(500, "internal", "streaming unsupported")
	}
	feed, stop := n.hits.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": fedarms hits\n\n")
	fl.Flush()
	keepAlive := n.clock.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case h := <-feed:
			if !visible(p, &h) {
				continue
			}
			b, _ := json.Marshal(h)
			fmt.Fprintf(w, "event: hit\nid: %s\ndata: %s\n\n", h.ID, b)
		}
		fl.Flush()
	}
}

type decisionRequest struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`
}

// handleDecision records the owning NCB's decision and routes it to the origin and the General
// Secretariat.
func (n *Node) handleDecision(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req decisionRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	h, err := n.hits.Get(id)
	if errors.Is(err, notify.ErrNotFound) {
		return errf(404, "not_found", "no hit %q on this node", id)
	}
	if err != nil {
		return err
	}
	if !p.Has("admin") && !(p.Has("recorder") && p.Country == h.RecordingCountry) {
		return errf(403, "forbidden", "only the NCB of %s decides on this hit", h.RecordingCountry)
	}
	d := notify.Decision{HitID: id, Decision: strings.ToLower(req.Decision), Comment: req.Comment,
		DecidedBy: p.Agency, DecidedVia: n.cfg.Name, DecidedAt: n.now().UTC()}
	var to []string
	if n.fed != nil {
		for _, role := range []string{notify.RoleOrigin, notify.RoleGS} {
			if !n.playsRole(role, &h) {
				to = append(to, role)
			}
		}
	}
	h, err = n.hits.Decide(d, to)
	switch {
	case errors.Is(err, notify.ErrBadDecision):
		return &apiError{Status: 400, Code: "invalid_field", Field: "decision", Message: err.Error()}
	case errors.Is(err, notify.ErrDecided):
		return errf(409, "conflict", "hit %s was already %s", id, h.Decision)
	case err != nil:
		return err
	}
	n.kickDelivery()
	writeJSON(w, http.StatusOK, h)
	return nil
}

// playsRole says whether this node is itself the recipient of role for h.
func (n *Node) playsRole(role string, h *notify.Hit) bool {
	if role == notify.RoleOrigin {
		return h.Origin == n.cfg.Name
	}
	for _, r := range n.ownRoles(h.RecordingCountry) {
		if r == role {
			return true
		}
	}
	return false
}

// hitCounts reads the stored hits once for the two numbers operators watch: the hits this node made
// that still wait for a recipient's receipt (its outbox), and the hits stored here whose NCB decision
// is past its deadline.
func (n *Node) hitCounts() (outbox, overdue int) {
	now := n.now()
	_, _ = n.hits.List(func(h *notify.Hit) bool {
		if h.Origin == n.cfg.Name && !h.Delivered() {
			outbox++
		}
		if h.Overdue(now) {
			overdue++
		}
		return false
	})
	return outbox, overdue
}
