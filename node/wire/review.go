package wire

import (
	"time"

	"github.com/fedarms/fedarms/internal/record"
)

// ReviewFilter narrows GET /v1/review: Status is empty (every record past its review date), due
// (past it, still a HIT) or expired (past the grace period too: no longer a HIT); Country keeps one
// recording country's records.
type ReviewFilter struct {
	Status  string
	Country string
	// Limit is the page's size (default DefaultPage, at most MaxPage); Cursor, from the previous
	// page, asks for the next one.
	Limit  int
	Cursor string
}

// ReviewPage is the answer to GET /v1/review: the records past their review date that the caller
// owns (a recorder its country's, an admin all), by country, then review date, then id; how many
// there are per country; and the cursor of the next page (empty on the last). An operator gets the
// counts only.
type ReviewPage struct {
	// AsOf is the node's time the states are taken at.
	AsOf time.Time `json:"as_of"`
	// GraceSeconds is the grace period after a review date during which a record still makes
	// HITs (0: withholding off, no record expires).
	GraceSeconds int64 `json:"grace_seconds"`
	// Shards are the shards this node holds, whose records the list and counts cover; Complete
	// is false when a country the caller may see lives in a shard this node does not hold.
	Shards   []string       `json:"shards"`
	Complete bool           `json:"complete"`
	Counts   []ReviewCount  `json:"counts"`
	Records  []ReviewRecord `json:"records"`
	Cursor   string         `json:"cursor"`
}

// ReviewCount is how many of a country's records are past their review date.
type ReviewCount struct {
	Country string `json:"country"`
	Due     int    `json:"due"`
	Expired int    `json:"expired"`
}

// ReviewRecord is one record past its review date.
type ReviewRecord struct {
	ID               string `json:"id"`
	RecordingCountry string `json:"recording_country"`
	ReviewDate       string `json:"review_date"`
	// State is due or expired.
	State string `json:"state"`
	// NoHitFrom is when the record stops (or stopped) being a HIT; absent when withholding is off.
	NoHitFrom time.Time `json:"no_hit_from,omitzero"`
	// Record is the record itself (absent if it was deleted between the list and the read).
	Record *record.Record `json:"record,omitempty"`
}
