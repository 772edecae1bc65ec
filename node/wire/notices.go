package wire

import (
	"time"

	"github.com/fedarms/fedarms/node/notify"
)

// Hit is a hit notification as the API shows it (GET /v1/hits, the hits stream): the stored hit
// itself, whose JSON is the contract.
type Hit = notify.Hit

// Trace is a trace request as the API shows it (GET /v1/traces).
type Trace = notify.Trace

// HitFilter narrows GET /v1/hits: Status is empty (all), pending, confirmed, denied, overdue or
// undelivered; Since keeps hits searched at or after it.
type HitFilter struct {
	Status string
	Since  time.Time
	// Limit is the page's size (default DefaultPage, at most MaxPage); Cursor, from the previous
	// page, asks for the next one.
	Limit  int
	Cursor string
}

// DefaultPage and MaxPage bound a page of GET /v1/hits, /v1/traces and /v1/audit.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// HitPage is the answer to GET /v1/hits: a page of hits, newest first, and the cursor of the next
// page (empty on the last).
type HitPage struct {
	Hits   []Hit  `json:"hits"`
	Cursor string `json:"cursor"`
}

// DecisionRequest is the body of POST /v1/hits/{id}/decision.
type DecisionRequest struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`
}

// TraceRequest is the body of POST /v1/traces: a record, or a firearm described by hand.
type TraceRequest struct {
	RecordID          string          `json:"record_id"`
	Firearm           *notify.Firearm `json:"firearm"`
	LastImportCountry string          `json:"last_import_country"`
}

// TraceAnswerRequest is the body of POST /v1/traces/{id}/answer.
type TraceAnswerRequest struct {
	Text string `json:"text"`
}
