package httpapi

import (
	"net/http"
	"strconv"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

func (a *api) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req wire.TokenRequest
	if err := wire.DecodeStrict(r.Body, &req); err != nil {
		return err
	}
	tok, err := a.b.CreateToken(p, req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, tok)
	return nil
}

func (a *api) tokens(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	WriteJSON(w, http.StatusOK, map[string]any{"tokens": a.b.ListTokens()})
	return nil
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := a.b.RevokeToken(p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// auditTail answers the last n entries (default 50), or the first n after a sequence number.
func (a *api) auditTail(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("n"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 10000 {
			return wire.FieldError("n", "n: must be between 1 and 10000")
		}
		limit = l
	}
	var entries []audit.Entry
	var err error
	if v := q.Get("after"); v != "" {
		after, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			return wire.FieldError("after", "after: must be a sequence number")
		}
		entries, err = a.b.AuditSince(after, limit)
	} else {
		entries, err = a.b.AuditTail(limit)
	}
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

func (a *api) auditVerify(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	rep, err := a.b.VerifyAudit()
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"ok": rep.OK(), "report": rep})
	return nil
}
