package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
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
	if q.Has("limit") || q.Has("cursor") {
		return a.auditPage(w, q)
	}
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

// auditAnchors answers GET /v1/audit/anchors?node=NAME on a central node: the heads the member
// anchored, oldest first, each signed by it.
func (a *api) auditAnchors(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	node := r.URL.Query().Get("node")
	as, err := a.b.AuditAnchors(node)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"node": node, "anchors": as})
	return nil
}

// auditPage answers GET /v1/audit?limit=&cursor=: a page of entries, newest first, and the cursor
// of the next (empty on the last). `n` and `after` (oldest first) stay for older clients.
func (a *api) auditPage(w http.ResponseWriter, q url.Values) error {
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	var before uint64
	if c := q.Get("cursor"); c != "" {
		b, derr := base64.RawURLEncoding.DecodeString(c)
		if derr == nil {
			before, derr = strconv.ParseUint(string(b), 10, 64)
		}
		if derr != nil || before == 0 {
			return wire.FieldError("cursor", "cursor: not one this node handed out; start again without it")
		}
	}
	entries, err := a.b.AuditBefore(before, limit+1)
	if err != nil {
		return err
	}
	cursor := ""
	if len(entries) > limit {
		entries = entries[:limit]
		cursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(entries[limit-1].Seq, 10)))
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"entries": entries, "cursor": cursor})
	return nil
}
