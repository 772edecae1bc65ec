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
