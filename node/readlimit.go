package node

import (
	"fmt"
	"math"
	"sync"
	"time"
	"unicode"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// Reading the register in bulk is noticed and stopped. Each token may make so many searches, and
// see so many distinct records in its answers, per hour and per day (its own limits, or the
// node's). A search over a searches limit is refused with 429 and Retry-After; once a records
// limit is reached, answers leave out the records the token has not seen yet in that window, and
// the next search is refused. So a script enumerating the register with broad queries ends below
// the records limit, refused, audited and counted (fedarms_read_refusals_total, alert
// FedarmsBulkReadRefused). Admin tokens are exempt: an admin can make any token anyway.
//
// The windows are fixed (an hour, a day, from the token's first search in them) and held in memory:
// a restart forgets them. Memory is bounded by the limits themselves: a window keeps at most its
// records limit of ids.

// readWindow counts one token's searches and distinct records in one window.
type readWindow struct {
	start    time.Time
	searches int
	records  map[string]struct{}
}

func (w *readWindow) roll(now time.Time, length time.Duration) {
	if w.records == nil || !now.Before(w.start.Add(length)) {
		w.start, w.searches, w.records = now, 0, map[string]struct{}{}
	}
}

type readUse struct {
	mu        sync.Mutex
	hour, day readWindow
}

// readLimiter holds every token's read use.
type readLimiter struct {
	def     auth.ReadLimits
	mu      sync.Mutex
	byToken map[string]*readUse
}

func newReadLimiter(def auth.ReadLimits) *readLimiter {
	return &readLimiter{def: def, byToken: map[string]*readUse{}}
}

func (l *readLimiter) use(tokenID string) *readUse {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.byToken[tokenID]
	if u == nil {
		u = &readUse{}
		l.byToken[tokenID] = u
	}
	return u
}

// exempt reports whether p's reads are not limited: admins, and callers without a token (the
// node's own work, members answering a remote search their origin has already limited).
func exempt(p auth.Principal) bool {
	return p.TokenID == "" || p.Has(auth.RoleAdmin)
}

// bound is a limit that applies: v > 0.
func bound(v int) bool { return v > 0 }

// admit counts one search of p, or refuses it when a limit is reached. The refusal's reason is
// the limit's name.
func (l *readLimiter) admit(p auth.Principal, now time.Time) (string, time.Duration, bool) {
	if exempt(p) {
		return "", 0, true
	}
	lim := p.Limits.Or(l.def)
	u := l.use(p.TokenID)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.hour.roll(now, time.Hour)
	u.day.roll(now, 24*time.Hour)
	for _, c := range []struct {
		reason string
		used   int
		limit  int
		w      *readWindow
		length time.Duration
	}{
		{"searches_per_hour", u.hour.searches, lim.SearchesPerHour, &u.hour, time.Hour},
		{"searches_per_day", u.day.searches, lim.SearchesPerDay, &u.day, 24 * time.Hour},
		{"records_per_hour", len(u.hour.records), lim.RecordsPerHour, &u.hour, time.Hour},
		{"records_per_day", len(u.day.records), lim.RecordsPerDay, &u.day, 24 * time.Hour},
	} {
		if bound(c.limit) && c.used >= c.limit {
			return c.reason, c.w.start.Add(c.length).Sub(now), false
		}
	}
	u.hour.searches++
	u.day.searches++
	return "", 0, true
}

// take counts the records of an answer to p and keeps only those p may still see: every record
// it has already seen in both windows, and new ones while both records limits allow. It reports
// the limit that cut the answer, if one did.
func (l *readLimiter) take(p auth.Principal, now time.Time, results []wire.SearchResult) ([]wire.SearchResult, string) {
	if exempt(p) || len(results) == 0 {
		return results, ""
	}
	lim := p.Limits.Or(l.def)
	u := l.use(p.TokenID)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.hour.roll(now, time.Hour)
	u.day.roll(now, 24*time.Hour)
	kept, cut := results[:0:0], ""
	for _, r := range results {
		_, inHour := u.hour.records[r.ID]
		_, inDay := u.day.records[r.ID]
		switch {
		case !inHour && bound(lim.RecordsPerHour) && len(u.hour.records) >= lim.RecordsPerHour:
			cut = "records_per_hour"
			continue
		case !inDay && bound(lim.RecordsPerDay) && len(u.day.records) >= lim.RecordsPerDay:
			cut = "records_per_day"
			continue
		}
		// Ids are kept only while a limit bounds them; an unlimited window need not remember.
		if bound(lim.RecordsPerHour) {
			u.hour.records[r.ID] = struct{}{}
		}
		if bound(lim.RecordsPerDay) {
			u.day.records[r.ID] = struct{}{}
		}
		kept = append(kept, r)
	}
	return kept, cut
}

// readCharacters counts what was actually read of a serial: letters and digits, not separators,
// '?' (one unreadable character) or '*' (any run).
func readCharacters(serial string) int {
	n := 0
	for _, r := range serial {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// minReadCharacters is how much of a serial a search without a make must carry.
const minReadCharacters = 3

// checkReads refuses a search that carries too little to search on, or that p may not make now
// (admit). Every refusal is audited and counted.
func (n *Node) checkReads(p auth.Principal, req wire.SearchRequest) error {
	read := readCharacters(req.Serial)
	if read == 0 || (read < minReadCharacters && req.Make == "") {
		n.refuseRead(p, "search", req.OnBehalfOf, "too_little")
		return wire.FieldError("serial", fmt.Sprintf("serial: %q carries too little to search on: give at least %d of its letters or digits, or fewer with the make", req.Serial, minReadCharacters))
	}
	return n.admitRead(p, "search", req.OnBehalfOf)
}

// admitRead counts one read (a search, a record read by id) of p against its searches limits.
func (n *Node) admitRead(p auth.Principal, action, onBehalfOf string) error {
	reason, wait, ok := n.reads.admit(p, n.now())
	if ok {
		return nil
	}
	n.refuseRead(p, action, onBehalfOf, reason)
	return readLimitError(p, reason, wait)
}

// takeRecord counts one record read by id (GET /v1/records/{id}, a trace request naming it): a
// record p has not seen in the window once its records limit is reached is refused.
func (n *Node) takeRecord(p auth.Principal, action, id string) error {
	now := n.now()
	if kept, cut := n.reads.take(p, now, []wire.SearchResult{{ID: id}}); len(kept) == 0 {
		n.refuseRead(p, action, "", cut)
		return readLimitError(p, cut, time.Hour)
	}
	return nil
}

func readLimitError(p auth.Principal, reason string, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	return (&wire.Error{Kind: wire.TooMany, Code: "read_limit",
		Message: fmt.Sprintf("token %s has reached its limit of %s; ask the General Secretariat for a token with higher limits if this is real work", p.TokenID, reason)}).Retry(max(secs, 1))
}

// refuseRead audits and counts a read refused for reading too much or carrying too little.
func (n *Node) refuseRead(p auth.Principal, action, onBehalfOf, reason string) {
	n.met.readRefusals.WithLabelValues(reason).Inc()
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, OnBehalfOf: onBehalfOf,
		Action: action, Outcome: "refused: " + reason})
}
