package httpapi

import (
	"mime"
	"net/http"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/wire"
)

func (a *api) search(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req wire.SearchRequest
	if err := wire.DecodeStrict(r.Body, &req); err != nil {
		return err
	}
	resp, err := a.b.Search(r.Context(), p, req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, resp)
	return nil
}

// importRecords reads an import in the format its Content-Type names (JSON lines by default).
func (a *api) importRecords(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var format wire.ImportFormat
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/json-lines", "application/json", "":
		format = wire.JSONLines
	case "text/csv":
		format = wire.CSV
	default:
		return wire.Errorf(wire.UnsupportedMedia, "unsupported_media_type", "Content-Type %q: use application/x-ndjson (JSON lines) or text/csv", mt)
	}
	d := newStreamDeadlines(w, a.streamIdle)
	d.holdWrites()
	defer d.writing() // the answer (or the error) is written after this returns
	resp, err := a.b.Import(r.Context(), p, format, &streamBody{ReadCloser: r.Body, d: d})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *api) createRecord(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var rec record.Record
	if err := wire.DecodeStrict(r.Body, &rec); err != nil {
		return err
	}
	if err := a.b.CreateRecord(r.Context(), p, &rec); err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, rec)
	return nil
}

func (a *api) updateRecord(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var rec record.Record
	if err := wire.DecodeStrict(r.Body, &rec); err != nil {
		return err
	}
	id := r.PathValue("id")
	if rec.ID == "" {
		rec.ID = id
	}
	if rec.ID != id {
		return wire.FieldError("id", "id in the body ("+rec.ID+") differs from the URL ("+id+")")
	}
	if err := a.b.UpdateRecord(r.Context(), p, &rec); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, rec)
	return nil
}

func (a *api) getRecord(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	rec, err := a.b.GetRecord(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, rec)
	return nil
}

func (a *api) deleteRecord(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := a.b.DeleteRecord(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// review lists records past their review date (the node decides who sees which).
func (a *api) review(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	f := wire.ReviewFilter{Status: q.Get("status"), Country: q.Get("country"), Cursor: q.Get("cursor")}
	var err error
	if f.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return err
	}
	page, err := a.b.Review(p, f)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, page)
	return nil
}
