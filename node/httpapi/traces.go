package httpapi

import (
	"net/http"
	"strings"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

func (a *api) createTrace(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req wire.TraceRequest
	if err := wire.DecodeStrict(r.Body, &req); err != nil {
		return err
	}
	t, err := a.b.CreateTrace(r.Context(), p, req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, t)
	return nil
}

func (a *api) traces(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	ts, next, err := a.b.Traces(p, q.Get("status"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []wire.Trace{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"traces": ts, "cursor": next})
	return nil
}

func (a *api) trace(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := a.b.Trace(p, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, t)
	return nil
}

func (a *api) answerTrace(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req wire.TraceAnswerRequest
	if err := wire.DecodeStrict(r.Body, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Text) == "" {
		return wire.FieldError("text", "text: the answer is required")
	}
	t, err := a.b.AnswerTrace(p, r.PathValue("id"), req.Text)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, t)
	return nil
}

func (a *api) closeTrace(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := a.b.CloseTrace(p, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, t)
	return nil
}
