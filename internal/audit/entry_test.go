package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestSealEncoding(t *testing.T) {
	at := time.Date(2026, 11, 25, 11, 0, 0, 120_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		entry Entry
		prev  head
		want  string // stored value without the hash member's value
	}{
		{
			name:  "minimal first entry",
			entry: Entry{Agency: "FR-NCB", Action: ActionRecordDelete, Outcome: OutcomeOK},
			want:  `{"seq":1,"time":"2026-11-25T10:00:00.12Z","agency":"FR-NCB","action":"record.delete","outcome":"ok","prev_hash":"","hash":""}`,
		},
		{
			name: "search with query compacted and HTML escaped",
			entry: Entry{
				TokenID: "0a1b2c3d4e5f", Agency: "KE-CUSTOMS", Country: "KE", OnBehalfOf: "WCO-I2C",
				Action: ActionSearch, Query: json.RawMessage("{ \"serial\" : \"A<B>&C\",\n \"limit\": 10 }"),
				ResultIDs: []string{"FR-1", "DE-2"}, Outcome: "no_leader",
				Seq: 99, Time: time.Unix(1, 0), PrevHash: "ignored", Hash: "ignored",
			},
			prev: head{Seq: 41, Hash: "ab12"},
			want: `{"seq":42,"time":"2026-11-25T10:00:00.12Z","token_id":"0a1b2c3d4e5f","agency":"KE-CUSTOMS",` +
				`"country":"KE","on_behalf_of":"WCO-I2C","action":"search",` +
				`"query":{"serial":"A\u003cB\u003e\u0026C","limit":10},"result_ids":["FR-1","DE-2"],` +
				`"outcome":"no_leader","prev_hash":"ab12","hash":""}`,
		},
		{
			name:  "null query left out",
			entry: Entry{Agency: "GS", Action: ActionImport, Query: json.RawMessage(" null "), Outcome: OutcomeOK},
			want:  `{"seq":1,"time":"2026-11-25T10:00:00.12Z","agency":"GS","action":"import","outcome":"ok","prev_hash":"","hash":""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, value, err := seal(tt.entry, tt.prev, at)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(append([]byte(tt.prev.Hash), tt.want...))
			wantHash := hex.EncodeToString(sum[:])
			if sealed.Hash != wantHash {
				t.Errorf("hash %s, want %s", sealed.Hash, wantHash)
			}
			wantValue := tt.want[:len(tt.want)-2] + wantHash + `"}`
			if string(value) != wantValue {
				t.Errorf("stored\n%s\nwant\n%s", value, wantValue)
			}
			// Re-encoding the decoded entry gives the same canonical bytes, as the package doc promises.
			decoded, err := decodeEntry(value)
			if err != nil {
				t.Fatal(err)
			}
			again, err := canonical(decoded)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != tt.want {
				t.Errorf("re-encoded\n%s\nwant\n%s", again, tt.want)
			}
		})
	}
}

// TestOutsideVerifier checks a stored log the way the package doc tells an outsider to: bytes,
// string handling and SHA-256, nothing from this package.
func TestOutsideVerifier(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		appendN(t, l, 40)
		settled(t, l)
		hashMember := regexp.MustCompile(`"hash":"([0-9a-f]{64})"}$`)
		prevMember := regexp.MustCompile(`"prev_hash":"([0-9a-f]*)","hash"`)
		var count int
		err := db.View(func(tx *bbolt.Tx) error {
			prev := ""
			return tx.Bucket([]byte("audit")).ForEach(func(k, v []byte) error {
				count++
				m := hashMember.FindSubmatch(v)
				p := prevMember.FindSubmatch(v)
				if m == nil || p == nil {
					t.Fatalf("entry %x: no hash or prev_hash member in %s", k, v)
				}
				if string(p[1]) != prev {
					t.Errorf("entry %x: prev_hash %s, want %s", k, p[1], prev)
				}
				canon := append(bytes.Clone(v[:len(v)-len(m[0])]), `"hash":""}`...)
				sum := sha256.Sum256(append([]byte(prev), canon...))
				if got := hex.EncodeToString(sum[:]); got != string(m[1]) {
					t.Errorf("entry %x: hash %s, recomputed %s", k, m[1], got)
				}
				prev = string(m[1])
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if count != 40 {
			t.Errorf("walked %d entries, want 40", count)
		}
	})
}

// TestCanonicalIsEncodingJSON holds the hand-written canonical encoding to the bytes json.Marshal
// writes, over random entries with what a string can hold (escapes, HTML characters, control
// characters, invalid UTF-8, U+2028) in every field and in the query.
func TestCanonicalIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	pieces := []string{"", "a", "FR-NCB", "<", ">", "&", `"`, `\`, "\n", "\t", "\x01", "\x7f", "\xff", "\xe2\x80\xa8",
		"\u2029", "é", "日本", "\ufffd", " ", "/"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for i := range 5000 {
		e := Entry{Seq: rng.Uint64() >> rng.IntN(64), TokenID: str(), Agency: str(), Country: str(), OnBehalfOf: str(),
			Action: "search" + str(), Outcome: "ok" + str(), PrevHash: str(),
			Time: time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)).In(time.FixedZone("X", 3600*rng.IntN(5)))}
		for range rng.IntN(3) {
			e.ResultIDs = append(e.ResultIDs, str())
		}
		if rng.IntN(4) > 0 {
			q, _ := json.Marshal(map[string]any{"serial": str(), "make": str(), "limit": rng.IntN(100), "x": []string{str()}})
			if rng.IntN(2) == 0 {
				q = bytes.ReplaceAll(q, []byte(","), []byte(" ,\n "))
			}
			if rng.IntN(2) == 0 { // characters json.Marshal escapes but a client may send raw
				raw := []string{"<", ">", "&", "\u2028", "\u2029", "\xe2\x80\xa9", "é"}
				q = fmt.Appendf(nil, `{"model":"%s%s", "n": [1, 2]}`, raw[rng.IntN(len(raw))], raw[rng.IntN(len(raw))])
			}
			e.Query = q
		}
		if err := validate(&e); err != nil {
			t.Fatal(err)
		}
		got, err := canonical(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Hash = ""
		e.Time = e.Time.UTC()
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("entry %d: canonical\n%s\njson.Marshal\n%s", i, got, want)
		}
		// Sealing builds the stored value in one buffer: the same bytes and hash as the canonical
		// encoding with the hash filled in.
		prev := head{Seq: e.Seq, Hash: e.PrevHash}
		sealed, value, err := sealValid(e, prev, e.Time)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
		canon, err := canonical(e)
		if err != nil {
			t.Fatal(err)
		}
		if h := chainHash(prev.Hash, canon); sealed.Hash != h || !bytes.Equal(value, withHash(canon, h)) {
			t.Fatalf("entry %d: sealed %s\n%s\nwant %s\n%s", i, sealed.Hash, value, h, withHash(canon, h))
		}
	}
}

// TestValidateCompactsQueries holds validate to json.Compact: a query already compact is kept as
// it is, any other is compacted, whatever its strings hold (escaped quotes and backslashes,
// whitespace inside strings), and one that is not JSON is refused.
func TestValidateCompactsQueries(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	pieces := []string{`{`, `}`, `[`, `]`, `,`, `:`, `"a"`, `"a b"`, `"\""`, `"\\"`, `"\\\" x"`, `"\n"`, `"\u0020"`,
		`1`, `-2.5e3`, `true`, `null`, ` `, "\t", "\n", "\r", `"`, `\`, `"{\"k\": 1}"`}
	valid := 0
	for i := range 20000 {
		var q []byte
		for range 1 + rng.IntN(8) {
			q = append(q, pieces[rng.IntN(len(pieces))]...)
		}
		if rng.IntN(3) == 0 { // a well-formed object with whitespace in and around its strings
			q = fmt.Appendf(nil, `{"serial": "WA %d", "make":"Smith \" Wesson","n":[ %d ,%d]}`, i, i, i)
		}
		var want bytes.Buffer
		werr := json.Compact(&want, q)
		e := Entry{Action: ActionSearch, Outcome: OutcomeOK, Query: bytes.Clone(q)}
		err := validate(&e)
		if (err != nil) != (werr != nil) {
			t.Fatalf("query %q: validate %v, json.Compact %v", q, err, werr)
		}
		if err != nil {
			continue
		}
		valid++
		w := want.Bytes()
		if bytes.Equal(w, []byte("null")) {
			w = nil
		}
		if !bytes.Equal(e.Query, w) {
			t.Fatalf("query %q: validate kept %q, json.Compact gives %q", q, e.Query, w)
		}
	}
	if valid < 5000 {
		t.Fatalf("only %d valid queries of 20000: the test needs more", valid)
	}
}
