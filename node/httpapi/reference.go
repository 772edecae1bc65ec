package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/node/wire"
)

// The reference lookups read the reference tables compiled into the binary: they need nothing of
// the node, so they call the reference package's API directly.

func refQuery(r *http.Request) (string, int, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return "", 0, wire.FieldError("q", "q: what to look up is required")
	}
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 200 {
			return "", 0, wire.FieldError("limit", "limit: between 1 and 200")
		}
		limit = l
	}
	return q, limit, nil
}

// refMakes looks up manufacturers by name, alias, abbreviation, misspelling or code.
func (a *api) refMakes(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q, limit, err := refQuery(r)
	if err != nil {
		return err
	}
	out := []wire.RefMake{}
	for _, m := range reference.SearchMakes(q, limit) {
		out = append(out, wire.RefMake{ID: m.ID, Name: m.Name, Country: m.Country, Aliases: m.Aliases, Codes: m.Codes})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"makes": out})
	return nil
}

// refCalibres looks up calibres by any of their spellings.
func (a *api) refCalibres(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q, limit, err := refQuery(r)
	if err != nil {
		return err
	}
	out := []wire.RefCalibre{}
	for _, c := range reference.SearchCalibres(q, limit) {
		out = append(out, wire.RefCalibre{ID: c.ID, Name: c.Name, Aliases: c.Aliases, Close: c.Close})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"calibres": out})
	return nil
}
