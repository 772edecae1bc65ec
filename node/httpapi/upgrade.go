package httpapi

import (
	"net/http"

	"github.com/fedarms/fedarms/internal/auth"
)

// upgradeStatus reports the formats in use and whether the upgrade can be finalized (GET
// /v1/federation/upgrade).
func (a *api) upgradeStatus(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	WriteJSON(w, http.StatusOK, a.b.UpgradeStatus())
	return nil
}

// finalizeUpgrade lets the newer formats be written once every member reads them (POST
// /v1/federation/upgrade/finalize; the body, if any, is ignored).
func (a *api) finalizeUpgrade(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	res, err := a.b.FinalizeUpgrade(r.Context(), p)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}
