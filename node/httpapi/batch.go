package httpapi

import (
	"bufio"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// searchBatch streams a screening's answers as JSON lines while it reads the request's lines: the
// answer starts before the body ends, so the connection runs full duplex.
func (a *api) searchBatch(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/json-lines", "application/json", "":
	default:
		return wire.Errorf(wire.UnsupportedMedia, "unsupported_media_type", "Content-Type %q: send the search requests as JSON lines (application/x-ndjson)", mt)
	}
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/1.1 would otherwise stop reading the body once the answer starts
	w.Header().Set("Content-Type", "application/x-ndjson")
	d := newStreamDeadlines(w, a.streamIdle)
	r.Body = &streamBody{ReadCloser: r.Body, d: d}
	bw := bufio.NewWriterSize(streamWriter{w: w, d: d}, 32<<10)
	enc := json.NewEncoder(bw)
	wrote := false
	emit := func(v any) error {
		wrote = true
		if b, ok := v.(wire.BatchLines); ok { // answers the node encoded as it matched them
			_, err := bw.Write(b)
			return err
		}
		return enc.Encode(v)
	}
	flush := func() {
		if bw.Buffered() > 0 {
			_ = bw.Flush()
			d.writing()
			_ = rc.Flush()
		}
	}
	_, err := a.b.SearchBatch(r.Context(), p, r.Body, emit, flush)
	if err != nil && !wrote {
		return err
	}
	if err != nil {
		// The status is gone; the last line says why the screening stopped (no "done" line).
		_ = enc.Encode(map[string]any{"error": a.classify(err)})
	}
	_ = bw.Flush()
	return nil
}
