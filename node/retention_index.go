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
	mu        sync.Mutex
	countries map[string]*countryReviews
	// version counts the changes filed; the counts of a scrape are kept for the next one while
	// neither version nor the cutoffs move (they move once a day).
	version     uint64
	cached      []reviewCount
	cachedAt    reviewCutoffs
	cachedOf    uint64
	cachedValid bool
}

// countryReviews are one country's records by review day.
type countryReviews struct {
	days map[reviewDay]*reviewBucket
	// order is the days in order, nil when a day was added or emptied since it was last sorted.
	order []reviewDay
}

// reviewBucket is the ids of one country's records due on one day. Most days of a country hold a few
// records: they are kept in a sorted slice, which costs an id's string and nothing more (a map per
// day cost 270 bytes a record at 100,000 records). A day with more than smallBucket moves to a set,
// and ids is then the sorted copy built by the first page that reads the day and dropped by the next
// change, so paging through a day of a million records sorts it once, not once a page.
type reviewBucket struct {
	ids []string            // sorted; every id of the day while set is nil
	set map[string]struct{} // nil while the day is small
}

// smallBucket is the most ids a day keeps in its sorted slice: inserting moves at most this many.
const smallBucket = 64

func (b *reviewBucket) len() int {
	if b.set != nil {
		return len(b.set)
	}
	return len(b.ids)
}

// put adds id; false when it was there already.
func (b *reviewBucket) put(id string) bool {
	if b.set != nil {
		if _, dup := b.set[id]; dup {
			return false
		}
		b.set[strings.Clone(id)] = struct{}{}
		b.ids = nil
		return true
	}
	i := len(b.ids)
	if i > 0 && id <= b.ids[i-1] { // ids mostly come in order: the common case compares once
		var found bool
		if i, found = slices.BinarySearch(b.ids, id); found {
			return false
		}
	}
	if len(b.ids) < smallBucket {
		b.ids = slices.Insert(b.ids, i, strings.Clone(id))
		return true
	}
	b.set = make(map[string]struct{}, 2*smallBucket)
	for _, v := range b.ids {
		b.set[v] = struct{}{}
	}
	b.set[strings.Clone(id)] = struct{}{}
	b.ids = nil
	return true
}

// drop removes id; false when it was not there.
func (b *reviewBucket) drop(id string) bool {
	if b.set != nil {
		if _, ok := b.set[id]; !ok {
			return false
		}
		delete(b.set, id)
		b.ids = nil
		return true
	}
	i, found := slices.BinarySearch(b.ids, id)
	if !found {
		return false
	}
	b.ids = slices.Delete(b.ids, i, i+1)
	return true
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
		b = &reviewBucket{}
		cr.days[d] = b
		cr.order = nil
	}
	if b.put(r.ID) {
		x.version++
	}
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
	if !b.drop(r.ID) {
		return
	}
	x.version++
	if b.len() == 0 {
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
	x.version++
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
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.cachedValid || x.cachedAt != c || x.cachedOf != x.version {
		all := make([]reviewCount, 0, len(x.countries))
		for country, cr := range x.countries {
			rc := reviewCount{country: country}
			for d, b := range cr.days {
				switch c.state(d) {
				case reviewDue:
					rc.due += b.len()
				case reviewExpired:
					rc.expired += b.len()
				}
			}
			all = append(all, rc)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].country < all[j].country })
		x.cached, x.cachedAt, x.cachedOf, x.cachedValid = all, c, x.version, true
	}
	out := make([]reviewCount, 0, len(x.cached))
	for _, rc := range x.cached {
		if keep == nil || keep(rc.country) {
			out = append(out, rc)
		}
	}
	return out
}

// reviewKey is a record's place in the list: by country, then review day, then id.
type reviewKey struct {
	country string
	day     reviewDay
	id      string
}

// page lists up to limit records after the key after (zero: from the start) whose review day is in
// [from, to), of the countries keep admits (nil: all), in key order; more says whether any follow.
// It may sort a day (kept for the next page).
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
	if b.set != nil && b.ids == nil {
		b.ids = make([]string, 0, len(b.set))
		for id := range b.set {
			b.ids = append(b.ids, id)
		}
		slices.Sort(b.ids)
	}
	return b.ids
}
