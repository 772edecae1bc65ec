package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// keepAlive is how often an idle hits stream sends a comment, so proxies keep it open.
const keepAlive = 15 * time.Second

func (a *api) hit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	h, err := a.b.Hit(p, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, h)
	return nil
}

func (a *api) hits(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	f := wire.HitFilter{Status: q.Get("status")}
	var err error
	switch f.Status {
	case "", notify.Pending, notify.Confirmed, notify.Denied, "overdue", "undelivered":
	default:
		return wire.FieldError("status", "status: one of pending, confirmed, denied, overdue, undelivered")
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return wire.FieldError("since", "since: an RFC 3339 time, e.g. 2026-11-25T10:00:00Z")
		}
		f.Since = t
	}
	if f.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return err
	}
	f.Cursor = q.Get("cursor")
	page, err := a.b.Hits(p, f)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, page)
	return nil
}

// pageLimit reads a list's limit parameter: wire.DefaultPage when absent, at most wire.MaxPage.
func pageLimit(v string) (int, error) {
	if v == "" {
		return wire.DefaultPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > wire.MaxPage {
		return 0, wire.FieldError("limit", fmt.Sprintf("limit: between 1 and %d", wire.MaxPage))
	}
	return n, nil
}

// tokenRecheck is how often a hits stream checks that its token is still valid: a stream ends
// within this long of its token's revocation or expiry.
const tokenRecheck = 5 * time.Second

// hitStream sends every hit stored or changed on the node that the caller may see, as server-sent
// events, until the client goes away or its token stops being valid (revoked or expired: a last
// "end" event says why). Each write must reach the client within the stream's idle limit.
func (a *api) hitStream(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return wire.Errorf(wire.Internal, "internal", "streaming unsupported")
	}
	secret := bearer(r)
	feed, stop := a.b.WatchHits(p)
	defer stop()
	d := newStreamDeadlines(w, a.streamIdle)
	out := streamWriter{w: w, d: d}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	d.writing()
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(out, ": fedarms hits\n\n")
	fl.Flush()
	tick := a.clock.NewTicker(keepAlive)
	defer tick.Stop()
	recheck := a.clock.NewTicker(tokenRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-recheck.C:
			if _, err := a.authenticateSecret(secret); err != nil {
				b, _ := json.Marshal(map[string]string{"reason": asError(err, a.classify).Message})
				fmt.Fprintf(out, "event: end\ndata: %s\n\n", b)
				fl.Flush()
				return nil
			}
			continue
		case <-tick.C:
			fmt.Fprint(out, ": keep-alive\n\n")
		case h, ok := <-feed:
			if !ok {
				return nil
			}
			b, _ := json.Marshal(h)
			fmt.Fprintf(out, "event: hit\nid: %s\ndata: %s\n\n", h.ID, b)
		}
		fl.Flush()
	}
}

func (a *api) decide(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req wire.DecisionRequest
	if err := wire.DecodeStrict(r.Body, &req); err != nil {
		return err
	}
	h, err := a.b.Decide(r.Context(), p, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, h)
	return nil
}
