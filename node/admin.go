package node

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
)

type tokenRequest struct {
	Agency  string   `json:"agency"`
	Country string   `json:"country"`
	Roles   []string `json:"roles"`
	Note    string   `json:"note"`
}

func (n *Node) handleTokenCreate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req tokenRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		return err
	}
	if req.Country != "" && !isCountry(req.Country) {
		return &apiError{Status: 400, Code: "invalid_field", Field: "country", Message: "country: " + req.Country + " is not an ISO 3166-1 alpha-2 code"}
	}
	secret, tok, err := n.tokens.Create(req.Agency, req.Country, req.Roles, req.Note)
	if err != nil {
		return &apiError{Status: 400, Code: "invalid_field", Message: err.Error()}
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "token.create", ResultIDs: []string{tok.ID}, Outcome: "ok"})
	writeJSON(w, http.StatusCreated, map[string]any{"token": secret, "info": tok})
	return nil
}

func (n *Node) handleTokenList(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"tokens": n.tokens.List()})
	return nil
}

func (n *Node) handleTokenRevoke(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	err := n.tokens.Revoke(id)
	if errors.Is(err, auth.ErrNotFound) {
		return errf(404, "not_found", "no token %q", id)
	}
	if err != nil {
		return err
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "token.revoke", ResultIDs: []string{id}, Outcome: "ok"})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (n *Node) handleAuditTail(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("n"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 10000 {
			return &apiError{Status: 400, Code: "invalid_field", Field: "n", Message: "n: must be between 1 and 10000"}
		}
		limit = l
	}
	var entries []audit.Entry
	var err error
	if v := q.Get("after"); v != "" {
		after, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			return &apiError{Status: 400, Code: "invalid_field", Field: "after", Message: "after: must be a sequence number"}
		}
		entries, err = n.audit.Since(after, limit)
	} else {
		entries, err = n.audit.Tail(limit)
	}
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

func (n *Node) handleAuditVerify(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	rep, err := n.audit.Verify()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": rep.OK(), "report": rep})
	return nil
}
