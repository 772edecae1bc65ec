package httpapi

import (
	"net/http"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

func (a *api) shards(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	WriteJSON(w, http.StatusOK, map[string]any{"shards": a.b.Shards(), "stale_after_seconds": a.b.StaleAfter().Seconds()})
	return nil
}

func (a *api) members(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	WriteJSON(w, http.StatusOK, map[string]any{"members": a.b.Members()})
	return nil
}

// admit admits a member whose entry the root key signed (POST /v1/federation/members).
func (a *api) admit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var se transport.SignedEntry
	if err := wire.DecodeStrict(r.Body, &se); err != nil {
		return err
	}
	res, err := a.b.Admit(r.Context(), p, se)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// revoke revokes a member for good (POST /v1/federation/revocations).
func (a *api) revoke(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var sr transport.SignedRevocation
	if err := wire.DecodeStrict(r.Body, &sr); err != nil {
		return err
	}
	res, err := a.b.Revoke(r.Context(), p, sr)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// roster reports the roster in force on the node and the revocations (GET /v1/federation/roster).
func (a *api) roster(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	view, err := a.b.Roster()
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, view)
	return nil
}

// fault drives the transport's fault switch, for drills and tests only.
func (a *api) fault(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var req wire.FaultRequest
	if err := wire.DecodeStrict(r.Body, &req); err != nil {
		return err
	}
	if err := a.b.Fault(req); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
