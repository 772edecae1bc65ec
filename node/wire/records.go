package wire

// Rejection is one import line that was not stored.
type Rejection struct {
	Line  int    `json:"line"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

// ImportResponse is the answer to POST /v1/import.
type ImportResponse struct {
	Accepted int `json:"accepted"`
	// Rejected lists the first MaxRejections rejected lines (by line number); RejectedCount counts
	// them all.
	Rejected      []Rejection `json:"rejected"`
	RejectedCount int         `json:"rejected_count"`
}

// MaxRejections is how many rejected lines an import answer lists; the rest are only counted, so
// the answer (and the node's memory) stays small whatever the input.
const MaxRejections = 1000

// RejectedTotal is how many lines were rejected: RejectedCount, or the length of Rejected for an
// answer of a node that does not count them.
func (r *ImportResponse) RejectedTotal() int {
	return max(r.RejectedCount, len(r.Rejected))
}

// ImportFormat is how an import's body is written.
type ImportFormat string

// The import formats: JSON lines (one record per line) and CSV (a header row of field names).
const (
	JSONLines ImportFormat = "jsonl"
	CSV       ImportFormat = "csv"
)
