package node

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/wire"
)

// Review lists the records past their review date that p owns (GET /v1/review): a recorder its
// own country's, an admin every country's; an operator sees the counts alone. The list covers the
// shards this node holds (a central node holds them all). Records listed are audited as read.
func (n *Node) Review(p auth.Principal, f wire.ReviewFilter) (wire.ReviewPage, error) {
	admin := p.Has(auth.RoleAdmin)
	owner := p.Has(auth.RoleRecorder) && p.Country != ""
	if !admin && !owner && !p.Has(auth.RoleOperator) {
		return wire.ReviewPage{}, wire.Errorf(wire.Forbidden, "forbidden", "token of %s lacks the recorder, operator or admin role", p.Agency)
	}
	if f.Country != "" && !isCountry(f.Country) {
		return wire.ReviewPage{}, wire.FieldError("country", "country: not an ISO 3166-1 alpha-2 code")
	}
	// Records: an admin sees every country's, a recorder its own. Counts: also an operator every
	// country's.
	records := func(c string) bool { return (f.Country == "" || c == f.Country) && (admin || owner && c == p.Country) }
	counted := func(c string) bool {
		return (f.Country == "" || c == f.Country) && (admin || p.Has(auth.RoleOperator) || c == p.Country)
	}
	if !admin && owner && !p.Has(auth.RoleOperator) && f.Country != "" && f.Country != p.Country {
		return wire.ReviewPage{}, wire.Errorf(wire.Forbidden, "forbidden", "a recorder of %s lists its own country's records only", p.Country)
	}
	var from reviewDay = noExpiry
	c := n.reviewCutoffs()
	to := c.due
	switch f.Status {
	case "":
	case reviewDue:
		from = c.expired
	case reviewExpired:
		to = c.expired
	default:
		return wire.ReviewPage{}, wire.FieldError("status", "status: due or expired (or none for both)")
	}
	if f.Limit <= 0 {
		f.Limit = wire.DefaultPage
	}
	after, err := parseReviewCursor(f.Cursor)
	if err != nil {
		return wire.ReviewPage{}, wire.FieldError("cursor", "cursor: not one this node handed out; start again without it")
	}
	page := wire.ReviewPage{AsOf: n.now().UTC(), GraceSeconds: int64(c.grace.Seconds()), Shards: n.allHeld(),
		Complete: n.coversCountries(f.Country, p), Counts: []wire.ReviewCount{}, Records: []wire.ReviewRecord{}}
	for _, rc := range n.index.review.counts(c, counted) {
		page.Counts = append(page.Counts, wire.ReviewCount{Country: rc.country, Due: rc.due, Expired: rc.expired})
	}
	if !admin && !owner {
		return page, nil
	}
	keys, more := n.index.review.page(from, to, records, after, f.Limit)
	if more {
		page.Cursor = reviewCursor(keys[len(keys)-1])
	}
	ids := make([]string, len(keys))
	shards := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
		shards[i], _ = n.shardMap.Shard(k.country)
	}
	recs, found := n.getRecords(ids, shards)
	for i, k := range keys {
		rr := wire.ReviewRecord{ID: k.id, RecordingCountry: k.country, ReviewDate: k.day.String(), State: c.state(k.day),
			NoHitFrom: c.hitEnds(k.day)}
		// The record is shown only as the index filed it: one renewed or moved between the two
		// reads is left for the next look.
		if found[i] && recs[i].RecordingCountry == k.country && recs[i].ReviewDate == rr.ReviewDate {
			rr.Record = &recs[i]
		}
		page.Records = append(page.Records, rr)
	}
	if len(ids) > 0 {
		query, _ := json.Marshal(map[string]string{"status": f.Status, "country": f.Country, "cursor": f.Cursor})
		n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "records.review",
			Query: query, ResultIDs: ids, Outcome: "ok"})
	}
	return page, nil
}

// coversCountries says whether this node holds the shard of every country the caller may see:
// the one asked for, a recorder's own, or (for an admin or operator) all of them.
func (n *Node) coversCountries(country string, p auth.Principal) bool {
	switch {
	case country != "":
	case !p.Has(auth.RoleAdmin) && !p.Has(auth.RoleOperator):
		country = p.Country
	default:
		return len(n.copies) == len(n.shardMap.Shards())
	}
	s, ok := n.shardMap.Shard(country)
	if !ok {
		return false
	}
	_, held := n.copies[s]
	return held
}

// reviewCursor names the last record of a page; the next page starts after it.
func reviewCursor(k reviewKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(k.country + "." + strconv.Itoa(int(k.day)) + "." + k.id))
}

func parseReviewCursor(s string) (*reviewKey, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 || !isCountry(parts[0]) {
		return nil, fmt.Errorf("malformed cursor")
	}
	d, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return nil, err
	}
	if err := record.ValidateID(parts[2]); err != nil {
		return nil, err
	}
	return &reviewKey{country: parts[0], day: reviewDay(d), id: parts[2]}, nil
}

// reviewMetrics are the gauges of records past their review date, per country, from the review
// index (a scrape reads its per-day counts, not the records).
type reviewMetrics struct {
	n            *Node
	due, expired *prometheus.Desc
}

func newReviewMetrics(n *Node) *reviewMetrics {
	return &reviewMetrics{n: n,
		due: prometheus.NewDesc("fedarms_records_review_due",
			"Records of the held shards past their review date and still HITs (within retention.grace), by recording country.", []string{"country"}, nil),
		expired: prometheus.NewDesc("fedarms_records_review_expired",
			"Records of the held shards past their review date and the grace period: returned by searches but no longer HITs, by recording country.", []string{"country"}, nil)}
}

// Describe implements prometheus.Collector.
func (m *reviewMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.due
	ch <- m.expired
}

// Collect implements prometheus.Collector.
func (m *reviewMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, rc := range m.n.index.review.counts(m.n.reviewCutoffs(), nil) {
		ch <- prometheus.MustNewConstMetric(m.due, prometheus.GaugeValue, float64(rc.due), rc.country)
		ch <- prometheus.MustNewConstMetric(m.expired, prometheus.GaugeValue, float64(rc.expired), rc.country)
	}
}
