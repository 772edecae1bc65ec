package wire

// Rejection is one import line that was not stored.
type Rejection struct {
	Line  int    `json:"line"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

// ImportResponse is the answer to POST /v1/import.
type ImportResponse struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
}

// ImportFormat is how an import's body is written.
type ImportFormat string

// The import formats: JSON lines (one record per line) and CSV (a header row of field names).
const (
	JSONLines ImportFormat = "jsonl"
	CSV       ImportFormat = "csv"
)
