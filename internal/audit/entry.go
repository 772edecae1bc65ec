package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// ErrInvalidEntry is returned for an entry that cannot be logged as given (no action, no outcome,
// a query that is not JSON); such an entry is never written.
var ErrInvalidEntry = errors.New("invalid audit entry")

// Actions a node logs; the set is open, these are the ones the node itself uses.
const (
	ActionSearch       = "search"
	ActionRecordCreate = "record.create"
	ActionRecordUpdate = "record.update"
	ActionRecordDelete = "record.delete"
	ActionImport       = "import"
	ActionTokenCreate  = "token.create"
	ActionTokenRevoke  = "token.revoke"
)

// OutcomeOK is the outcome of an action that succeeded; any other outcome is an error code.
const OutcomeOK = "ok"

// Entry is one audited action. Seq, Time, PrevHash and Hash are set by the log when it is appended.
type Entry struct {
	Seq        uint64          `json:"seq"`
	Time       time.Time       `json:"time"`
	TokenID    string          `json:"token_id,omitempty"`
	Agency     string          `json:"agency"`
	Country    string          `json:"country,omitempty"`
	OnBehalfOf string          `json:"on_behalf_of,omitempty"`
	Action     string          `json:"action"`
	Query      json.RawMessage `json:"query,omitempty"`
	ResultIDs  []string        `json:"result_ids,omitempty"`
	Outcome    string          `json:"outcome"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

var (
	bucketEntries = []byte("audit")
	bucketMeta    = []byte("audit_meta")
	keyHead       = []byte("head")
	// keyJournal names the last journaled log opened on the file (claimFile).
	keyJournal = []byte("journal")
)

// emptyHashSuffix ends every canonical encoding: Hash is the last member and is emptied.
var emptyHashSuffix = []byte(`"hash":""}`)

// head is the last appended entry, kept in audit_meta so a truncated tail shows.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// seqKey is big-endian so that bbolt's byte order is sequence order.
func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// validate rejects what could not be audited meaningfully, and normalises the query so that the
// entry handed back equals the one stored.
func validate(e *Entry) error {
	if e.Action == "" {
		return fmt.Errorf("%w: action is empty", ErrInvalidEntry)
	}
	if e.Outcome == "" {
		return fmt.Errorf("%w: outcome is empty (use %q or an error code)", ErrInvalidEntry, OutcomeOK)
	}
	if len(e.Query) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Query); err != nil {
			return fmt.Errorf("%w: query is not JSON: %w", ErrInvalidEntry, err)
		}
		if bytes.Equal(buf.Bytes(), []byte("null")) {
			e.Query = nil
		} else {
			e.Query = buf.Bytes()
		}
	}
	return nil
}

// canonical is the encoding the hash covers; see the package doc.
func canonical(e Entry) ([]byte, error) {
	e.Hash = ""
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode entry %d: %w", e.Seq, err)
	}
	return b, nil
}

// chainHash links an entry to its predecessor.
func chainHash(prevHash string, canon []byte) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// seal numbers, stamps and hashes e after prev, returning the sealed entry and its stored value.
func seal(e Entry, prev head, now time.Time) (Entry, []byte, error) {
	if err := validate(&e); err != nil {
		return Entry{}, nil, err
	}
	e.Seq = prev.Seq + 1
	e.Time = now.UTC()
	e.PrevHash = prev.Hash
	canon, err := canonical(e)
	if err != nil {
		return Entry{}, nil, err
	}
	e.Hash = chainHash(e.PrevHash, canon)
	return e, withHash(canon, e.Hash), nil
}

// withHash turns a canonical encoding into the stored value by filling in the hash member.
func withHash(canon []byte, hash string) []byte {
	body := canon[:len(canon)-len(emptyHashSuffix)]
	v := make([]byte, 0, len(canon)+len(hash))
	v = append(v, body...)
	v = append(v, `"hash":"`...)
	v = append(v, hash...)
	return append(v, `"}`...)
}

// canonicalOf recovers the canonical encoding from a stored value, the way an outside verifier would.
func canonicalOf(value []byte, hash string) ([]byte, bool) {
	suffix := []byte(`"hash":"` + hash + `"}`)
	if !bytes.HasSuffix(value, suffix) {
		return nil, false
	}
	canon := make([]byte, 0, len(value))
	canon = append(canon, value[:len(value)-len(suffix)]...)
	return append(canon, emptyHashSuffix...), true
}

// readHead returns the zero head for an empty log.
func readHead(meta *bbolt.Bucket) (head, bool, error) {
	if meta == nil {
		return head{}, false, nil
	}
	v := meta.Get(keyHead)
	if v == nil {
		return head{}, false, nil
	}
	var h head
	if err := json.Unmarshal(v, &h); err != nil {
		return head{}, true, fmt.Errorf("decode audit head: %w", err)
	}
	return h, true, nil
}

func writeHead(meta *bbolt.Bucket, h head) error {
	v, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode audit head: %w", err)
	}
	if err := meta.Put(keyHead, v); err != nil {
		return fmt.Errorf("store audit head: %w", err)
	}
	return nil
}

// decodeEntry reads one stored value.
func decodeEntry(v []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return Entry{}, fmt.Errorf("decode audit entry: %w", err)
	}
	return e, nil
}
