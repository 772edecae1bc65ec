package node

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/reference"
)

// RefMake is a manufacturer as the reference lookup returns it.
type RefMake struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Country string   `json:"country,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
	Codes   []string `json:"codes,omitempty"`
}

// RefCalibre is a calibre equivalence class as the reference lookup returns it.
type RefCalibre struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Close   []string `json:"close,omitempty"` // related but distinct classes
}

func refQuery(r *http.Request) (string, int, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return "", 0, &apiError{Status: 400, Code: "invalid_field", Field: "q", Message: "q: what to look up is required"}
	}
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 200 {
			return "", 0, &apiError{Status: 400, Code: "invalid_field", Field: "limit", Message: "limit: between 1 and 200"}
		}
		limit = l
	}
	return q, limit, nil
}

// handleRefMakes looks up manufacturers by name, alias, abbreviation, misspelling or code.
func (n *Node) handleRefMakes(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q, limit, err := refQuery(r)
	if err != nil {
		return err
	}
	out := []RefMake{}
	for _, m := range reference.SearchMakes(q, limit) {
		out = append(out, RefMake{ID: m.ID, Name: m.Name, Country: m.Country, Aliases: m.Aliases, Codes: m.Codes})
	}
	writeJSON(w, http.StatusOK, map[string]any{"makes": out})
	return nil
}

// handleRefCalibres looks up calibres by any of their spellings.
func (n *Node) handleRefCalibres(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q, limit, err := refQuery(r)
	if err != nil {
		return err
	}
	out := []RefCalibre{}
	for _, c := range reference.SearchCalibres(q, limit) {
		out = append(out, RefCalibre{ID: c.ID, Name: c.Name, Aliases: c.Aliases, Close: c.Close})
	}
	writeJSON(w, http.StatusOK, map[string]any{"calibres": out})
	return nil
}
