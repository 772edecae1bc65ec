package node

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/replication"
)

// reviewIndex files every held record that has a review date by country and day, so the list of
// records past their date and its counts cost what they return, not a scan of the shards (1.4M
// records). The live index keeps it current from the same applied changes it files in the matcher
// (apply) and rebuilds it with the matcher (load). Records of every held shard are filed, an id
// that two shards hold (ids.go) under each record's own country.
//
// Lock order: its own mu, taken alone (the live index calls it without holding its mu).
type reviewIndex struct {
	mu        sync.RWMutex
	countries map[string]*countryReviews
}

// countryReviews are one country's records by review day.
type countryReviews struct {
	days map[reviewDay]*reviewBucket
	// order is the days in order, nil when a day was added or emptied since it was last sorted.
	order []reviewDay
}

// reviewBucket is the ids of one country's records due on one day. sorted, when not nil, holds them in
// order: built by the first page that reads the day and dropped by the next change, so paging
// through a day of a million records sorts it once, not once a page.
type reviewBucket struct {
	ids    map[string]struct{}
	sorted []string
}

func newReviewIndex() *reviewIndex {
	return &reviewIndex{countries: map[string]*countryReviews{}}
}

// apply files the changes of one applied batch: the old version out, the new one in.
func (x *reviewIndex) apply(changes []replication.Change) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range changes {
		if c.Old != nil {
			x.remove(c.Old)
		}
		if c.New != nil {
			x.add(c.New)
		}
	}
}

// add files r when it has a review date. Call with mu held for writing (or before x is shared).
func (x *reviewIndex) add(r *record.Record) {
	d, ok := parseReviewDay(r.ReviewDate)
	if !ok {
		return
	}
	cr := x.countries[r.RecordingCountry]
	if cr == nil {
		cr = &countryReviews{days: map[reviewDay]*reviewBucket{}}
		// The country comes from a record cut out of a larger buffer: a copy keeps the
		// buffer from staying alive.
		x.countries[strings.Clone(r.RecordingCountry)] = cr
	}
	b := cr.days[d]
	if b == nil {
		b = &reviewBucket{ids: map[string]struct{}{}}
		cr.days[d] = b
		cr.order = nil
	}
	if _, dup := b.ids[r.ID]; dup {
		return
	}
	b.ids[strings.Clone(r.ID)] = struct{}{}
	b.sorted = nil
}

// remove takes r out. Call with mu held for writing.
func (x *reviewIndex) remove(r *record.Record) {
	d, ok := parseReviewDay(r.ReviewDate)
	if !ok {
		return
	}
	cr := x.countries[r.RecordingCountry]
	if cr == nil {
		return
	}
	b := cr.days[d]
	if b == nil {
		return
	}
	if _, ok := b.ids[r.ID]; !ok {
		return
	}
	delete(b.ids, r.ID)
	b.sorted = nil
	if len(b.ids) == 0 {
		delete(cr.days, d)
		cr.order = nil
	}
	if len(cr.days) == 0 {
		delete(x.countries, r.RecordingCountry)
	}
}

// replace swaps in what a rebuild filed (after load).
func (x *reviewIndex) replace(fresh *reviewIndex) {
	x.mu.Lock()
	x.countries = fresh.countries
	x.mu.Unlock()
}

// reviewCount is one country's records past their review date at some moment.
type reviewCount struct {
	country      string
	due, expired int
}

// counts are the records past their review date per country (every country holding a record with
// a review date, zeros included, so a gauge does not vanish when the last one is renewed), in
// country order, for the countries keep admits (nil: all).
func (x *reviewIndex) counts(c reviewCutoffs, keep func(country string) bool) []reviewCount {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]reviewCount, 0, len(x.countries))
	for country, cr := range x.countries {
		if keep != nil && !keep(country) {
			continue
		}
		rc := reviewCount{country: country}
		for d, b := range cr.days {
			switch c.state(d) {
			case reviewDue:
				rc.due += len(b.ids)
			case reviewExpired:
				rc.expired += len(b.ids)
			}
		}
		out = append(out, rc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].country < out[j].country })
	return out
}

// reviewKey is a record's place in the list: by country, then review day, then id.
type reviewKey struct {
	country string
	day     reviewDay
	id      string
}

func (k reviewKey) less(o reviewKey) bool {
	if k.country != o.country {
		return k.country < o.country
	}
	if k.day != o.day {
		return k.day < o.day
	}
	return k.id < o.id
}

// page lists up to limit records after the key after (zero: from the start) whose review day is in
// [from, to), of the countries keep admits (nil: all), in key order; more says whether any follow.
// It takes mu for writing: it may sort a day (kept for the next page).
func (x *reviewIndex) page(from, to reviewDay, keep func(string) bool, after *reviewKey, limit int) (keys []reviewKey, more bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	countries := make([]string, 0, len(x.countries))
	for c := range x.countries {
		if (keep == nil || keep(c)) && (after == nil || c >= after.country) {
			countries = append(countries, c)
		}
	}
	slices.Sort(countries)
	for _, country := range countries {
		cr := x.countries[country]
		for _, d := range cr.sortedDays() {
			if d < from || d >= to || after != nil && country == after.country && d < after.day {
				continue
			}
			ids := cr.days[d].sortedIDs()
			i := 0
			if after != nil && country == after.country && d == after.day {
				i = sort.SearchStrings(ids, after.id)
				if i < len(ids) && ids[i] == after.id {
					i++
				}
			}
			for ; i < len(ids); i++ {
				if len(keys) == limit {
					return keys, true
				}
				keys = append(keys, reviewKey{country: country, day: d, id: ids[i]})
			}
		}
	}
	return keys, false
}

func (cr *countryReviews) sortedDays() []reviewDay {
	if cr.order == nil {
		cr.order = make([]reviewDay, 0, len(cr.days))
		for d := range cr.days {
			cr.order = append(cr.order, d)
		}
		slices.Sort(cr.order)
	}
	return cr.order
}

func (b *reviewBucket) sortedIDs() []string {
	if b.sorted == nil {
		b.sorted = make([]string, 0, len(b.ids))
		for id := range b.ids {
			b.sorted = append(b.sorted, id)
		}
		slices.Sort(b.sorted)
	}
	return b.sorted
}
