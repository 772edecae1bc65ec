package notify

import (
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Trace statuses.
const (
	TraceOpen     = "open"
	TraceAnswered = "answered"
	TraceClosed   = "closed"
)

// ErrTraceClosed is returned when answering a closed trace.
var ErrTraceClosed = errors.New("trace is closed")

var bucketTraces = []byte("traces")

// Firearm is the description a trace request follows.
type Firearm struct {
	Serial               string `json:"serial"`
	Make                 string `json:"make"`
	Model                string `json:"model,omitempty"`
	Calibre              string `json:"calibre,omitempty"`
	Type                 string `json:"type,omitempty"`
	CountryOfManufacture string `json:"country_of_manufacture,omitempty"`
}

// TraceAnswer is one country's answer to a trace request.
type TraceAnswer struct {
	Country string    `json:"country"`
	Agency  string    `json:"agency"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
	// Sig is the answering NCB node's signature, so that a copy relayed by another member still
	// proves who answered.
	Sig *Signature `json:"sig,omitempty"`
}

// Trace follows a found firearm from manufacture or legal import to its last known owner: it goes
// to the NCBs of the country of manufacture and of last legal import, and to the General
// Secretariat. Recipients are "gs" and "ncb:CC".
type Trace struct {
	ID                string            `json:"id"`
	RecordID          string            `json:"record_id,omitempty"`
	Firearm           Firearm           `json:"firearm"`
	LastImportCountry string            `json:"last_import_country,omitempty"`
	RequestedBy       string            `json:"requested_by"`
	RequesterCountry  string            `json:"requester_country,omitempty"`
	Origin            string            `json:"origin"`
	CreatedAt         time.Time         `json:"created_at"`
	Status            string            `json:"status"`
	Recipients        []string          `json:"recipients"`
	Receipts          map[string]string `json:"receipts"` // recipient -> time it stored the request
	Answers           []TraceAnswer     `json:"answers,omitempty"`
	// OriginSig is the origin's signature over the request (SignTrace), so that a copy relayed by
	// another member still proves who asked.
	OriginSig *Signature `json:"origin_sig,omitempty"`
	// SendTo lists where this node still has to send its copy (after an answer or a close): "gs",
	// "origin". It is this node's business; receivers ignore it.
	SendTo []string `json:"send_to,omitempty"`
}

// TraceRecipients are the recipients of a trace for these countries.
func TraceRecipients(countries ...string) []string {
	set := map[string]bool{"gs": true}
	for _, c := range countries {
		if c != "" {
			set["ncb:"+c] = true
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func putTrace(tx *bolt.Tx, t *Trace) error {
	b, err := tx.CreateBucketIfNotExists(bucketTraces)
	if err != nil {
		return err
	}
	return put(b, bucketTraces, []byte(t.ID), t)
}

// CreateTrace stores a new trace request (its origin's copy).
func (s *Store) CreateTrace(t Trace) error {
	return s.db.Update(func(tx *bolt.Tx) error { return CreateTraceTx(tx, t) })
}

// CreateTraceTx is CreateTrace within tx (so it commits with its audit entry).
func CreateTraceTx(tx *bolt.Tx, t Trace) error { return putTrace(tx, &t) }

// UpdateTrace changes a stored trace; fn sees the stored copy.
func (s *Store) UpdateTrace(id string, fn func(t *Trace) error) (Trace, error) {
	var t Trace
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		t, err = UpdateTraceTx(tx, id, fn)
		return err
	})
	return t, err
}

// UpdateTraceTx is UpdateTrace within tx; on an error from fn nothing is written.
func UpdateTraceTx(tx *bolt.Tx, id string, fn func(t *Trace) error) (Trace, error) {
	var t Trace
	b, err := tx.CreateBucketIfNotExists(bucketTraces)
	if err != nil {
		return t, err
	}
	v := b.Get([]byte(id))
	if v == nil {
		return t, ErrNotFound
	}
	if err := decode(tx, bucketTraces, []byte(id), v, &t); err != nil {
		return t, err
	}
	if err := fn(&t); err != nil {
		return t, err
	}
	return t, putTrace(tx, &t)
}

// ReceiveTrace stores a trace delivered to this node (once per recipient: the receipt time is when
// it was first stored) and merges its answers and status into this node's copy. The caller has
// checked who may have sent each answer and the status; the receipts and the copies still to send
// are this node's own, never the sender's.
func (s *Store) ReceiveTrace(t Trace, recipient string) (time.Time, error) {
	var at time.Time
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		at, err = receiveTraceTx(tx, t, recipient, s.now().UTC())
		return err
	})
	return at, err
}

// receiveTraceTx is ReceiveTrace inside tx, with now as the receipt time of a first copy.
func receiveTraceTx(tx *bolt.Tx, t Trace, recipient string, now time.Time) (time.Time, error) {
	var at time.Time
	incoming := t
	incoming.SendTo, incoming.Receipts = nil, nil
	b, err := tx.CreateBucketIfNotExists(bucketTraces)
	if err != nil {
		return at, err
	}
	if v := b.Get([]byte(t.ID)); v != nil {
		var old Trace
		if err := decode(tx, bucketTraces, []byte(t.ID), v, &old); err != nil {
			return at, err
		}
		mergeTrace(&old, &incoming)
		t = old
		if r := old.Receipts[recipient]; r != "" {
			at, _ = time.Parse(time.RFC3339Nano, r)
			return at, putTrace(tx, &t)
		}
	} else {
		t = incoming
		t.Answers, t.Status = nil, TraceOpen
		mergeTrace(&t, &incoming)
	}
	at = now.UTC()
	if t.Receipts == nil {
		t.Receipts = map[string]string{}
	}
	t.Receipts[recipient] = at.Format(time.RFC3339Nano)
	return at, putTrace(tx, &t)
}

// AddAnswer merges an answer into this node's copy (idempotent: an answer already present by the
// same country at the same time is not added twice) and marks the trace answered.
func (s *Store) AddAnswer(id string, a TraceAnswer) (Trace, error) {
	var t Trace
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		t, err = AddAnswerTx(tx, id, a)
		return err
	})
	return t, err
}

// AddAnswerTx is AddAnswer within tx.
func AddAnswerTx(tx *bolt.Tx, id string, a TraceAnswer) (Trace, error) {
	return UpdateTraceTx(tx, id, func(t *Trace) error {
		if t.Status == TraceClosed {
			return ErrTraceClosed
		}
		for _, old := range t.Answers {
			if old.Country == a.Country && old.At.Equal(a.At) {
				return nil
			}
		}
		t.Answers = append(t.Answers, a)
		t.Status = TraceAnswered
		return nil
	})
}

// Traces lists the stored traces keep says yes to, newest first.
func (s *Store) Traces(keep func(*Trace) bool) ([]Trace, error) {
	var out []Trace
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTraces)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var t Trace
			if err := decode(tx, bucketTraces, k, v, &t); err != nil {
				return fmt.Errorf("trace: %w", err)
			}
			if keep(&t) {
				out = append(out, t)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

// GetTrace returns a stored trace.
func (s *Store) GetTrace(id string) (Trace, error) {
	ts, err := s.Traces(func(t *Trace) bool { return t.ID == id })
	if err != nil {
		return Trace{}, err
	}
	if len(ts) == 0 {
		return Trace{}, ErrNotFound
	}
	return ts[0], nil
}

// mergeTrace adds into dst the answers and the most advanced status of src.
func mergeTrace(dst, src *Trace) {
	for _, a := range src.Answers {
		dup := false
		for _, old := range dst.Answers {
			if old.Country == a.Country && old.At.Equal(a.At) {
				dup = true
			}
		}
		if !dup {
			dst.Answers = append(dst.Answers, a)
		}
	}
	// A status moves forward only, and "answered" only with an answer to show for it.
	rank := map[string]int{TraceOpen: 0, TraceAnswered: 1, TraceClosed: 2}
	if rank[src.Status] > rank[dst.Status] && (src.Status != TraceAnswered || len(dst.Answers) > 0) {
		dst.Status = src.Status
	}
	if dst.Status == TraceOpen && len(dst.Answers) > 0 {
		dst.Status = TraceAnswered
	}
}
