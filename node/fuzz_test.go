package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// Fuzz targets for what a node decodes from other members (the length-prefixed frames of every
// node-to-node protocol, the requests they carry, the messages of /fedarms/msg/1) and from an
// importing client (JSON lines, CSV). None starts a server. scripts/fuzz.sh runs them for longer.

// importLog is an importSink that keeps what the parsers gave it, in order.
type importLog struct {
	lines   []int
	records []record.Record
	rejects int
}

func (l *importLog) add(line int, rec record.Record) {
	l.lines = append(l.lines, line)
	l.records = append(l.records, rec)
}

func (l *importLog) reject(line int, _, _ string) {
	l.lines = append(l.lines, line)
	l.rejects++
}

// checkLines fails unless every line number is at least 1 and each follows the one before.
func (l *importLog) checkLines(t *testing.T) {
	t.Helper()
	for i, n := range l.lines {
		if n < 1 || (i > 0 && n <= l.lines[i-1]) {
			t.Fatalf("line numbers %v: item %d is not after the one before", l.lines, i)
		}
	}
}

// fuzzImportMax bounds a fuzzed import: longer inputs find nothing new and slow every exec down (a
// line over maxLine has its own test).
const fuzzImportMax = 16 << 10

const csvHeader = "id,serial,other_serials,make,model,calibre,type,country_of_manufacture,recording_country,status,event_date,case_reference,remarks,review_date\n"

// FuzzImportCSV parses arbitrary bytes as a CSV import. A bad row is that row's rejection, never a
// panic, and every record or rejection names a line after the one before.
func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(csvHeader + `FR-C-1,BXK 0123,BXK0123|A 1,Glock,17,9x19,pistol,AT,FR,stolen,2019-03-01,PJ/75,"a ""quoted"", multi
line remark",2029-03-01` + "\n" + "FR-C-2,S2,,Beretta,92,9x19,pistol,IT,FR,lost,,,,\n"))
	f.Add([]byte("\ufeffid,serial\nFR\"C-6,x\nFR-C-7,y\n")) // a bare quote: the row is rejected, the next one read
	f.Add([]byte("id,serial\n\"FR-C-8,unterminated\nFR-C-9,z\n"))
	f.Add([]byte("id,serial\nFR-1\nFR-2,a,b\r\nFR-3,c\n"))
	f.Add([]byte("id,nonsense\nx,y\n"))
	f.Add([]byte("\"id\nserial\"\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > fuzzImportMax {
			return
		}
		var l importLog
		_ = parseCSV(context.Background(), bytes.NewReader(b), &l)
		l.checkLines(t)
	})
}

// FuzzImportJSONLines parses arbitrary bytes as a JSON-lines import. Lines are numbered from 1 in
// order, and each record read comes back the same through the JSON a node serves it as.
func FuzzImportJSONLines(f *testing.F) {
	line, _ := json.Marshal(record.Record{ID: "FR-J-1", Serial: "BXK 0123", OtherSerials: []string{"A 1"}, Make: "Glock",
		Calibre: "9x19", Type: "pistol", RecordingCountry: "FR", Status: "stolen", Remarks: "é \u2028"})
	f.Add(append(append([]byte("\ufeff"), line...), "\n\n"+`{"id":"FR-J-2"}`+"\r\n"...))
	f.Add([]byte(`{"id":"a"} {"id":"b"}` + "\n" + `{"id":` + "\n" + `[1,2]` + "\n" + `{"remarks":"\ud800"}`))
	f.Add([]byte(`{"other_serials":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	f.Add([]byte("{\"serial\":\"a\xffb\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > fuzzImportMax {
			return
		}
		var l importLog
		if err := parseJSONLines(context.Background(), bytes.NewReader(b), &l); err != nil {
			t.Fatalf("reading from memory: %v", err)
		}
		l.checkLines(t)
		if len(l.lines) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d items from %d lines", len(l.lines), bytes.Count(b, []byte("\n"))+1)
		}
		for _, r := range l.records {
			r.Normalize() // as the importer stores it ("other_serials":[] is none)
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back record.Record
			err = back.UnmarshalJSONLine(out)
			back.Normalize()
			if err != nil || !reflect.DeepEqual(back, r) {
				t.Fatalf("%#v is served as %s, which reads as %#v (%v)", r, out, back, err)
			}
		}
	})
}

// fuzzFrame is the bytes writeFrame sends for v.
func fuzzFrame(v any) []byte {
	var buf bytes.Buffer
	if err := writeFrame(&buf, v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// FuzzReadFrame reads arbitrary bytes as the frame of a node-to-node call, as each request and answer
// type its protocols carry. A length prefix is never trusted for memory: a few bytes claiming a
// 64 MiB frame allocate in proportion to what arrived, not to the claim.
func FuzzReadFrame(f *testing.F) {
	cmd, _ := (&replication.Command{Op: replication.OpUpsert, Principal: replication.Principal{Agency: "FR-NCB", Country: "FR"},
		Records: []record.Record{{ID: "FR-1", Serial: "S", Make: "Glock", Calibre: "9x19", Type: "pistol", RecordingCountry: "FR", Status: "lost"}}}).MarshalBinary()
	f.Add(fuzzFrame(applyRequest{Shard: "europe", Command: cmd, Hops: 1}))
	f.Add(fuzzFrame(controlRequest{Command: replication.ControlCommand{Op: replication.ControlAdmit, Blob: []byte(`{"entry":{}}`)}}))
	f.Add(fuzzFrame(remoteSearchRequest{Request: wire.SearchRequest{Serial: "BXK 0123", Limit: 10}, Shards: []string{"europe"}}))
	f.Add(fuzzFrame(remoteSearchRequest{GetID: "FR-1"}))
	f.Add(fuzzFrame(rpcAnswer{Status: 409, Error: &wire.Error{Kind: wire.Conflict, Code: "conflict", Message: "x"}, Body: json.RawMessage(`{"index":3}`)}))
	f.Add(fuzzFrame(message{Kind: "receipt", Role: "gs", HitID: "h1", StoredAt: time.Unix(1700000000, 0).UTC()}))
	f.Add(binary.AppendUvarint(nil, defaultFrameLimit))  // the largest claim, nothing behind it
	f.Add(append(binary.AppendUvarint(nil, 1<<40), '{')) // over the limit
	f.Add(append(binary.AppendUvarint(nil, 3), "{}"...)) // truncated
	f.Add(bytes.Repeat([]byte{0xff}, 11))                // a varint that never ends
	f.Fuzz(func(t *testing.T, b []byte) {
		targets := []any{new(applyRequest), new(controlRequest), new(remoteSearchRequest), new(message), new(rpcAnswer), new(remoteSearchAnswer)}
		for _, v := range targets {
			var err error
			if n := testutil.Allocated(func() { err = readFrame(bufio.NewReader(bytes.NewReader(b)), v) }); n > 64*uint64(len(b))+256<<10 {
				t.Fatalf("reading a frame of %d bytes as %T allocated %d", len(b), v, n)
			}
			if err != nil {
				continue
			}
			testutil.JSONRoundTrip(t, v)
			if req, ok := v.(*applyRequest); ok {
				var c replication.Command
				_ = c.UnmarshalBinary(req.Command)
			}
		}
	})
}

// FuzzMessage decodes arbitrary JSON as a /fedarms/msg/1 message (a hit, a decision, a carried hit,
// a receipt or a trace). What decodes re-encodes to the same message.
func FuzzMessage(f *testing.F) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	hit := &notify.Hit{ID: "h1", RecordID: "FR-1", RecordingCountry: "FR", SearchID: "s1", Origin: "edge-cdg", Agency: "FR-PAF",
		SearchedAt: at, Score: 0.97, Why: map[string]string{"serial": "exact"}, Deadline: at.Add(time.Hour), Decision: notify.Pending,
		Receipts: map[string]string{"gs": "", "ncb": "", "origin": at.Format(time.RFC3339Nano)}}
	for _, m := range []message{
		{Kind: "hit", Role: "ncb", Hit: hit},
		{Kind: "carry", Role: "gs", Hit: hit},
		{Kind: "decision", Role: "origin", Decision: &notify.Decision{HitID: "h1", Decision: notify.Confirmed, DecidedBy: "FR-NCB", DecidedAt: at}},
		{Kind: "receipt", Role: "gs", HitID: "h1", StoredAt: at},
		{Kind: "trace", Role: "ncb", Trace: &notify.Trace{ID: "t1", RecordID: "FR-1", Firearm: notify.Firearm{Serial: "S", Make: "Glock"},
			RequestedBy: "KE-CUSTOMS", Origin: "edge-nbo", CreatedAt: at, Status: "open", Recipients: []string{"FR"}}},
	} {
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"hit","hit":{"searched_at":"9999-12-31T23:59:59-23:59","score":1e308,"why":{"":""}}}`))
	f.Add([]byte(`{"kind":"receipt","stored_at":"0000-01-01T00:00:00+00:01"}`))
	f.Add([]byte(`{"kind":"hit","hit":null,"decision":{"decided_at":"2025-02-30T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		if json.Unmarshal(b, &m) != nil {
			return
		}
		testutil.JSONRoundTrip(t, &m)
	})
}

// TestImportCSVBareQuoteIsARejectedRow is the CSV that used to panic the import handler: the row's
// line was read before its parse error was looked at.
func TestImportCSVBareQuoteIsARejectedRow(t *testing.T) {
	var l importLog
	err := parseCSV(context.Background(), strings.NewReader("id,serial\nFR\"C-6,x\nFR-C-7,y\n"), &l)
	if err != nil || l.rejects != 1 || len(l.records) != 1 || l.records[0].ID != "FR-C-7" {
		t.Fatalf("err %v, %d rejected, records %+v; want the bad row rejected and the next one read", err, l.rejects, l.records)
	}
	if _, err := csv.NewReader(strings.NewReader("a\"b\n")).Read(); err == nil {
		t.Fatal("the csv package accepts a bare quote now: this test no longer covers the case")
	}
}

// TestImportJSONLinesLongLine: a line over maxLine is rejected as that line, and the next is read.
func TestImportJSONLinesLongLine(t *testing.T) {
	var l importLog
	body := append(bytes.Repeat([]byte(" "), 3*maxLine), "\n{\"id\":\"FR-1\"}\n"...)
	if err := parseJSONLines(context.Background(), bytes.NewReader(body), &l); err != nil {
		t.Fatal(err)
	}
	if l.rejects != 1 || len(l.records) != 1 || !reflect.DeepEqual(l.lines, []int{1, 2}) {
		t.Fatalf("lines %v, %d rejected, records %+v", l.lines, l.rejects, l.records)
	}
}
