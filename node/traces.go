package node

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/notify"
)

type traceRequest struct {
	RecordID          string          `json:"record_id"`
	Firearm           *notify.Firearm `json:"firearm"`
	LastImportCountry string          `json:"last_import_country"`
}

// traceRoles are the trace recipients this node plays.
func (n *Node) traceRoles() []string {
	if n.fed == nil {
		return nil // every recipient: see playsTrace
	}
	var roles []string
	if n.cfg.Role == "central" {
		roles = append(roles, "gs")
	}
	if n.cfg.Role == "ncb" {
		roles = append(roles, "ncb:"+n.cfg.Country)
	}
	return roles
}

func (n *Node) playsTrace(recipient string) bool {
	return n.fed == nil || slices.Contains(n.traceRoles(), recipient)
}

func traceVisible(p auth.Principal, t *notify.Trace) bool {
	if p.Has("admin") || (p.Has("operator") && p.Country == "") || t.RequestedBy == p.Agency {
		return true
	}
	return p.Country != "" && slices.Contains(t.Recipients, "ncb:"+p.Country)
}

func (n *Node) handleTraceCreate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req traceRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		return err
	}
	t := notify.Trace{ID: newID("t"), RecordID: req.RecordID, LastImportCountry: strings.ToUpper(req.LastImportCountry),
		RequestedBy: p.Agency, RequesterCountry: p.Country, Origin: n.cfg.Name, CreatedAt: n.now().UTC(),
		Status: notify.TraceOpen, Receipts: map[string]string{}}
	switch {
	case req.RecordID != "":
		rec, ok := n.fetchRecord(r.Context(), req.RecordID)
		if !ok {
			return &apiError{Status: 404, Code: "not_found", Field: "record_id", Message: "no record " + req.RecordID}
		}
		t.Firearm = notify.Firearm{Serial: rec.Serial, Make: rec.Make, Model: rec.Model, Calibre: rec.Calibre,
			Type: rec.Type, CountryOfManufacture: rec.CountryOfManufacture}
	case req.Firearm != nil && req.Firearm.Serial != "" && req.Firearm.Make != "":
		t.Firearm = *req.Firearm
		t.Firearm.CountryOfManufacture = strings.ToUpper(t.Firearm.CountryOfManufacture)
	default:
		return &apiError{Status: 400, Code: "invalid_field", Field: "firearm", Message: "give record_id, or a firearm with at least serial and make"}
	}
	for _, c := range []string{t.Firearm.CountryOfManufacture, t.LastImportCountry} {
		if c != "" && !isCountry(c) {
			return &apiError{Status: 400, Code: "invalid_field", Field: "country", Message: c + " is not an ISO 3166-1 alpha-2 code"}
		}
	}
	if t.Firearm.CountryOfManufacture == "" && t.LastImportCountry == "" {
		return &apiError{Status: 400, Code: "invalid_field", Field: "last_import_country", Message: "a trace needs the country of manufacture or of last legal import"}
	}
	t.Recipients = notify.TraceRecipients(t.Firearm.CountryOfManufacture, t.LastImportCountry)
	now := t.CreatedAt.Format(time.RFC3339Nano)
	for _, rc := range t.Recipients {
		if n.playsTrace(rc) {
			t.Receipts[rc] = now
		}
	}
	if n.fed != nil {
		// Signed once, so copies other members relay still prove who asked.
		sig, err := notify.SignTrace(n.signer(), &t)
		if err != nil {
			return err
		}
		t.OriginSig = sig
	}
	if err := n.hits.CreateTrace(t); err != nil {
		return err
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "trace.create",
		Query: mustJSON(req), ResultIDs: []string{t.ID}, Outcome: "ok"})
	n.kickDelivery()
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (n *Node) handleTraceList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	status := r.URL.Query().Get("status")
	ts, err := n.hits.Traces(func(t *notify.Trace) bool {
		return traceVisible(p, t) && (status == "" || t.Status == status)
	})
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []notify.Trace{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"traces": ts})
	return nil
}

func (n *Node) handleTraceGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := n.hits.GetTrace(r.PathValue("id"))
	if errors.Is(err, notify.ErrNotFound) || (err == nil && !traceVisible(p, &t)) {
		return errf(404, "not_found", "no trace %q visible to %s on this node", r.PathValue("id"), p.Agency)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// handleTraceAnswer takes a recipient NCB's answer and routes it to the origin and the General
// Secretariat.
func (n *Node) handleTraceAnswer(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req struct {
		Text string `json:"text"`
	}
	if err := decodeStrict(r.Body, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Text) == "" {
		return &apiError{Status: 400, Code: "invalid_field", Field: "text", Message: "text: the answer is required"}
	}
	id := r.PathValue("id")
	t, err := n.hits.GetTrace(id)
	if errors.Is(err, notify.ErrNotFound) {
		return errf(404, "not_found", "no trace %q on this node", id)
	}
	if !p.Has("admin") && !(p.Has("recorder") && slices.Contains(t.Recipients, "ncb:"+p.Country)) {
		return errf(403, "forbidden", "only the NCBs this trace was sent to answer it")
	}
	if n.fed != nil && !n.playsTrace("ncb:"+p.Country) {
		// Other members take an answer for a country only from that country's NCB nodes.
		return errf(409, "conflict", "answer trace %s at a node of the NCB of %s", id, p.Country)
	}
	a := notify.TraceAnswer{Country: p.Country, Agency: p.Agency, Text: req.Text, At: n.now().UTC()}
	if n.fed != nil {
		if a.Sig, err = notify.SignAnswer(n.signer(), n.cfg.Name, id, &a); err != nil {
			return err
		}
	}
	t, err = n.hits.AddAnswer(id, a)
	if errors.Is(err, notify.ErrTraceClosed) {
		return errf(409, "conflict", "trace %s is closed", id)
	}
	if err != nil {
		return err
	}
	t, err = n.queueTraceCopies(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// handleTraceClose lets the requester close its trace, at its origin or a central node (other
// members take a close only from those).
func (n *Node) handleTraceClose(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	t, err := n.hits.UpdateTrace(id, func(t *notify.Trace) error {
		if t.RequestedBy != p.Agency && !p.Has("admin") {
			return errf(403, "forbidden", "only the requester closes a trace")
		}
		if n.fed != nil && t.Origin != n.cfg.Name && n.cfg.Role != "central" {
			return errf(409, "conflict", "close trace %s at its origin %s or a central node", id, t.Origin)
		}
		t.Status = notify.TraceClosed
		return nil
	})
	if errors.Is(err, notify.ErrNotFound) {
		return errf(404, "not_found", "no trace %q on this node", id)
	}
	if err != nil {
		return err
	}
	if t, err = n.queueTraceCopies(id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// queueTraceCopies marks this node's copy to be sent to the origin, the General Secretariat and the
// recipient NCBs it does not itself stand for.
func (n *Node) queueTraceCopies(id string) (notify.Trace, error) {
	if n.fed == nil {
		return n.hits.GetTrace(id)
	}
	t, err := n.hits.UpdateTrace(id, func(t *notify.Trace) error {
		for _, to := range append([]string{"origin"}, t.Recipients...) {
			if (to == "origin" && t.Origin == n.cfg.Name) || (to != "origin" && n.playsTrace(to)) || slices.Contains(t.SendTo, to) {
				continue
			}
			t.SendTo = append(t.SendTo, to)
		}
		return nil
	})
	n.kickDelivery()
	return t, err
}

// traceTargets are the members that stand for a trace recipient.
func (n *Node) traceTargets(t *notify.Trace, to string) []peer.ID {
	switch {
	case to == "origin":
		if e, ok := n.fed.roster.ByName(t.Origin); ok {
			return []peer.ID{e.PeerID}
		}
		return nil
	case to == "gs":
		return n.recipients(notify.RoleGS, "")
	case strings.HasPrefix(to, "ncb:"):
		return n.recipients(notify.RoleNCB, strings.TrimPrefix(to, "ncb:"))
	}
	return nil
}

// deliverTraces sends trace requests this node made to their recipients, and copies it owes.
func (n *Node) deliverTraces() {
	ts, err := n.hits.Traces(func(t *notify.Trace) bool {
		if len(t.SendTo) > 0 {
			return true
		}
		if t.Origin != n.cfg.Name {
			return false
		}
		for _, rc := range t.Recipients {
			if t.Receipts[rc] == "" {
				return true
			}
		}
		return false
	})
	if err != nil {
		return
	}
	for i := range ts {
		t := &ts[i]
		if t.Origin == n.cfg.Name {
			for _, rc := range t.Recipients {
				key := "trace/" + t.ID + "/" + rc
				if t.Receipts[rc] != "" || !n.deliver.due(key) {
					continue
				}
				targets := n.traceTargets(t, rc)
				if len(targets) == 0 {
					n.deliver.failed(key)
					continue
				}
				ans, err := n.sendTo(targets, message{Kind: "trace", Role: rc, Trace: n.traceCopy(t)})
				if err != nil {
					n.deliver.failed(key)
					continue
				}
				n.deliver.done(key)
				_, _ = n.hits.UpdateTrace(t.ID, func(st *notify.Trace) error {
					if st.Receipts[rc] == "" {
						st.Receipts[rc] = ans.StoredAt.UTC().Format(time.RFC3339Nano)
					}
					return nil
				})
			}
		}
		for _, to := range t.SendTo {
			key := "tracecopy/" + t.ID + "/" + to
			if !n.deliver.due(key) {
				continue
			}
			if _, err := n.sendTo(n.traceTargets(t, to), message{Kind: "trace", Role: to, Trace: n.traceCopy(t)}); err != nil {
				n.deliver.failed(key)
				continue
			}
			n.deliver.done(key)
			_, _ = n.hits.UpdateTrace(t.ID, func(st *notify.Trace) error {
				st.SendTo = slices.DeleteFunc(st.SendTo, func(s string) bool { return s == to })
				return nil
			})
		}
	}
}
