package node

import (
	"fmt"
	"time"

	"github.com/fedarms/fedarms/node/wire"
)

// Retention (issue 17). A record's review_date is when its owner must review it. From the day
// after it the record is due: it is listed for its owner (GET /v1/review, `fedarms records
// review`, the console, fedarms_records_review_due). Once the federation's grace period
// (retention.grace) has passed as well it is expired: a search still returns it, but never as a
// HIT, so it makes no notification, until the owner renews it (a write with a later review_date)
// or deletes it. A record without a review date never becomes due.
//
// Dates are whole UTC days compared with the node's clock. withholdExpired is the one place that
// takes the HIT away, on the node that makes the hit: matchCovered (searches and screening lines,
// over the local results and the answers of other members merged into them) and lateCheck (late
// matches). A member answering another's search reports its matcher's claim unchanged: the origin
// decides on its own clock and grace, so both must be the federation's (config.Retention).

// reviewDay is a date as days since 1970-01-01 (UTC).
type reviewDay int32

const secondsPerDay = 24 * 60 * 60

// dayOf is the UTC day t falls in.
func dayOf(t time.Time) reviewDay {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d-- // floor, for times before 1970
	}
	return reviewDay(d)
}

// start is the first instant of day d (UTC).
func (d reviewDay) start() time.Time { return time.Unix(int64(d)*secondsPerDay, 0).UTC() }

// String writes d as YYYY-MM-DD.
func (d reviewDay) String() string { return d.start().Format(time.DateOnly) }

// parseReviewDay reads a review date (YYYY-MM-DD, as validation leaves it); false for none or one
// that does not read, which never becomes due.
func parseReviewDay(s string) (reviewDay, bool) {
	if len(s) != len(time.DateOnly) {
		return 0, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return dayOf(t), true
}

// Review states of a record past its review date (the JSON names of GET /v1/review).
const (
	reviewDue     = "due"     // past its review date, still a HIT
	reviewExpired = "expired" // past the grace period too: no longer a HIT
)

// reviewCutoffs are the days a record's review date is compared with at one moment: it is due when
// its review date is before due, and expired when it is before expired as well.
type reviewCutoffs struct {
	due, expired reviewDay
	grace        time.Duration // 0: withholding off, nothing expires
}

// noExpiry is an expired cutoff no review date reaches.
const noExpiry = reviewDay(-1 << 31)

// reviewCutoffs reads the node's clock: a record dated D is due from the start of D+1, and expired
// from then plus the grace period.
func (n *Node) reviewCutoffs() reviewCutoffs {
	return cutoffsAt(n.now(), n.cfg.Retention.Grace.Duration)
}

func cutoffsAt(now time.Time, grace time.Duration) reviewCutoffs {
	c := reviewCutoffs{due: dayOf(now), expired: noExpiry, grace: grace}
	if grace > 0 {
		c.expired = dayOf(now.Add(-grace))
	}
	return c
}

// state is "" (not due), reviewDue or reviewExpired for a record dated d.
func (c reviewCutoffs) state(d reviewDay) string {
	switch {
	case d < c.expired:
		return reviewExpired
	case d < c.due:
		return reviewDue
	}
	return ""
}

// hitEnds is when a record dated d stops being a HIT (zero when withholding is off).
func (c reviewCutoffs) hitEnds(d reviewDay) time.Time {
	if c.grace <= 0 {
		return time.Time{}
	}
	return (d + 1).start().Add(c.grace)
}

// withholdExpired takes the HIT from every result whose record is past its review date and the
// grace period, saying why in why.hit (which says why a score at the HIT threshold is not a HIT).
// The result stays in the answer, and so does its REVIEW flag: an officer still sees the record.
func (n *Node) withholdExpired(results []wire.SearchResult) {
	var c reviewCutoffs
	read := false
	for i := range results {
		res := &results[i]
		if !res.Hit || res.Record == nil || res.Record.ReviewDate == "" {
			continue
		}
		if !read {
			c, read = n.reviewCutoffs(), true
		}
		d, ok := parseReviewDay(res.Record.ReviewDate)
		if !ok || c.state(d) != reviewExpired {
			continue
		}
		res.Hit = false
		res.Why.Hit = fmt.Sprintf("review date %s passed and the grace period of %s ended %s: not a HIT until the owner renews or deletes the record",
			d, graceText(c.grace), c.hitEnds(d).Format(time.DateOnly))
	}
}

// graceText writes a grace period as days when it is whole days.
func graceText(g time.Duration) string {
	if g > 0 && g%(24*time.Hour) == 0 {
		if g == 24*time.Hour {
			return "1 day"
		}
		return fmt.Sprintf("%d days", g/(24*time.Hour))
	}
	return g.String()
}
