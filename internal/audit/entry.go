package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
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
		q := e.Query
		if !json.Valid(q) || !compact(q) {
			var buf bytes.Buffer
			if err := json.Compact(&buf, q); err != nil {
				return fmt.Errorf("%w: query is not JSON: %w", ErrInvalidEntry, err)
			}
			q = buf.Bytes()
		}
		if bytes.Equal(q, []byte("null")) {
			q = nil
		}
		e.Query = q
	}
	return nil
}

// compact reports whether valid JSON v has no whitespace outside its strings, so that
// json.Compact would return it unchanged: what json.Marshal writes, as the node's queries are,
// need not be copied.
func compact(v []byte) bool {
	in := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case in && c == '\\':
			i++ // the escaped character (valid JSON: never past the end)
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}

// canonical is the encoding the hash covers; see the package doc. It is the bytes json.Marshal
// writes for the entry with its Hash empty (TestCanonicalIsEncodingJSON), appended by hand: the
// writer seals every entry a screening makes, and reflection was most of a seal's time.
func canonical(e Entry) ([]byte, error) {
	e.Hash = ""
	e.Time = e.Time.UTC()
	if y := e.Time.Year(); y < 0 || y > 9999 {
		// json.Marshal refuses such a time: let it say why.
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode entry %d: %w", e.Seq, err)
		}
		return b, nil
	}
	return appendCanonical(make([]byte, 0, 256+len(e.Query)), &e), nil
}

// appendCanonical appends e as json.Marshal writes it (Hash as given), for an entry whose Time is
// UTC within years 0-9999 and whose Query passed validate (valid JSON, compacted).
func appendCanonical(b []byte, e *Entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	str := func(name, v string, omitEmpty bool) {
		if omitEmpty && v == "" {
			return
		}
		b = append(append(append(b, ',', '"'), name...), '"', ':')
		b = record.AppendJSONString(b, v)
	}
	str("token_id", e.TokenID, true)
	str("agency", e.Agency, false)
	str("country", e.Country, true)
	str("on_behalf_of", e.OnBehalfOf, true)
	str("action", e.Action, false)
	if len(e.Query) > 0 {
		b = append(b, `,"query":`...)
		b = appendCompactHTML(b, e.Query)
	}
	if len(e.ResultIDs) > 0 {
		b = append(b, `,"result_ids":`...)
		b = record.AppendJSONStrings(b, e.ResultIDs)
	}
	str("outcome", e.Outcome, false)
	str("prev_hash", e.PrevHash, false)
	str("hash", e.Hash, false)
	return append(b, '}')
}

// appendCompactHTML appends compact valid JSON v as json.Marshal writes a json.RawMessage: with
// <, >, &, U+2028 and U+2029 escaped.
func appendCompactHTML(b []byte, v []byte) []byte {
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, v[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8: // U+2028, U+2029
			b = append(b, v[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return append(b, v[start:]...)
}

const hexDigits = "0123456789abcdef"

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
	return sealValid(e, prev, now)
}

// sealValid is seal for an entry validate already passed (and normalised): Append validates what
// it queues, and validating again in the writer was a fifth of a seal's time.
func sealValid(e Entry, prev head, now time.Time) (Entry, []byte, error) {
	e.Seq = prev.Seq + 1
	e.Time = now.UTC()
	e.PrevHash = prev.Hash
	e.Hash = ""
	if y := e.Time.Year(); y < 0 || y > 9999 {
		canon, err := canonical(e) // refuses it, saying why
		if err != nil {
			return Entry{}, nil, err
		}
		e.Hash = chainHash(e.PrevHash, canon)
		return e, withHash(canon, e.Hash), nil
	}
	// One buffer holds what the hash covers, the predecessor's hash then the canonical encoding,
	// and turns into the stored value in place: the hash member is filled in where the canonical
	// encoding ends with it empty. Same bytes as chainHash and withHash, one allocation instead
	// of five.
	b := make([]byte, 0, len(e.PrevHash)+encodedSize(&e)+sha256.Size*2)
	b = append(b, e.PrevHash...)
	b = appendCanonical(b, &e)
	sum := sha256.Sum256(b)
	v := b[len(e.PrevHash) : len(b)-len(`"}`)]
	at := len(v)
	v = hex.AppendEncode(v, sum[:])
	e.Hash = string(v[at:])
	return e, append(v, `"}`...), nil
}

// encodedSize bounds from above the canonical encoding of e with its hash empty, unless a string
// needs escapes (the buffer then grows once).
func encodedSize(e *Entry) int {
	n := len(`{"seq":,"time":"","token_id":"","agency":"","country":"","on_behalf_of":"","action":"",`+
		`"query":,"result_ids":[],"outcome":"","prev_hash":"","hash":""}`) + 20 + len(time.RFC3339Nano) +
		len(e.TokenID) + len(e.Agency) + len(e.Country) + len(e.OnBehalfOf) + len(e.Action) +
		len(e.Query) + len(e.Outcome) + len(e.PrevHash)
	for _, id := range e.ResultIDs {
		n += len(id) + 3
	}
	return n
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
