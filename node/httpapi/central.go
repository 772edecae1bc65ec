package httpapi

import (
	"context"
	"net/http"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// Centrals is the part of the Backend that changes the central members (the voters of every raft
// group) while the federation runs. A join is an admission of a central member's signed entry
// (POST /v1/federation/members); the control leader then adds it to every group.
type Centrals interface {
	// CentralStatus is each group's voters and the change of central members in progress.
	CentralStatus() (wire.CentralStatus, error)
	// RemoveCentral removes a central member from every group and revokes it.
	RemoveCentral(ctx context.Context, p auth.Principal, rm wire.CentralRemoval) (wire.RosterChange, error)
}

// centralRoutes registers the routes of Centrals (admin only).
func (a *api) centralRoutes(mux *http.ServeMux, lim int64) {
	mux.Handle("GET /v1/federation/central", a.route("federation.central", "admin", lim, a.centralStatus))
	mux.Handle("POST /v1/federation/central/removals", a.route("federation.remove", "admin", lim, a.removeCentral))
}

// centralStatus reports the central members and each group's voters (GET /v1/federation/central).
func (a *api) centralStatus(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	st, err := a.b.CentralStatus()
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

// removeCentral removes a central member (POST /v1/federation/central/removals).
func (a *api) removeCentral(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var rm wire.CentralRemoval
	if err := wire.DecodeStrict(r.Body, &rm); err != nil {
		return err
	}
	res, err := a.b.RemoveCentral(r.Context(), p, rm)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}
