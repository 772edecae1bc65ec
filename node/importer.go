package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// maxLine bounds one import line; a longer line is rejected and skipped, not fatal.
const maxLine = 64 << 10

// inFlight bounds the raft applies one import keeps outstanding: enough to overlap parsing, the
// log write and the state write, few enough to bound memory.
const inFlight = 8

// importer batches valid records per shard and applies the batches through raft, several at once.
type importer struct {
	n   *Node
	p   auth.Principal
	ctx context.Context
	sem chan struct{}
	wg  sync.WaitGroup

	pending map[string]*importBatch // by shard; used only by the reading goroutine

	mu       sync.Mutex // guards accepted, rejected, audits
	accepted int
	rejected rejections
	audits   []audit.Pending // one entry per applied batch; the answer waits for them (audited.go)
}

type importBatch struct {
	shard   string
	lines   []int
	records []record.Record
	bytes   int // about what the records take encoded (recordWireSize)
}

// Import reads records in format from body and stores them for p, batched per shard and applied
// several batches at once (POST /v1/import). A line that cannot be stored is a rejection in the
// answer; what is accepted is durable and searchable when Import returns.
func (n *Node) Import(ctx context.Context, p auth.Principal, format wire.ImportFormat, body io.Reader) (*wire.ImportResponse, error) {
	imp := &importer{n: n, p: p, ctx: ctx, sem: make(chan struct{}, inFlight), pending: map[string]*importBatch{}}
	var err error
	switch format {
	case wire.JSONLines:
		err = imp.readJSONLines(body)
	case wire.CSV:
		err = imp.readCSV(body)
	default:
		return nil, wire.Errorf(wire.UnsupportedMedia, "unsupported_media_type", "import format %q: use JSON lines or CSV", format)
	}
	for shard := range imp.pending {
		imp.flush(shard)
	}
	imp.wg.Wait()
	// What was stored is acknowledged only with its audit entries durable, even when the import
	// stopped early.
	for _, pending := range imp.audits {
		if aerr := auditWait(context.WithoutCancel(ctx), "import", pending); aerr != nil && err == nil {
			err = aerr
		}
	}
	if err != nil {
		return nil, err
	}
	// What is acknowledged is durable and searchable.
	n.index.caughtUp()
	n.log.Info("import done", "agency", p.Agency, "accepted", imp.accepted, "rejected", imp.rejected.count)
	n.met.imported.WithLabelValues("accepted").Add(float64(imp.accepted))
	n.met.imported.WithLabelValues("rejected").Add(float64(imp.rejected.count))
	return &wire.ImportResponse{Accepted: imp.accepted, Rejected: imp.rejected.sorted(), RejectedCount: imp.rejected.count}, nil
}

// importSink takes what the import parsers read: a record with its line number, or a line's
// rejection. The parsers only read; the importer validates, batches and applies.
type importSink interface {
	add(line int, rec record.Record)
	reject(line int, id, msg string)
}

func (imp *importer) readJSONLines(body io.Reader) error { return parseJSONLines(imp.ctx, body, imp) }

// readLine reads one line of br (with its newline, if any). A line longer than maxLine, or than
// br's buffer, is read to its end and dropped: tooLong says so, and b is then not the line.
func readLine(br *bufio.Reader) (b []byte, tooLong bool, err error) {
	b, err = br.ReadSlice('\n')
	tooLong = len(b) > maxLine
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = br.ReadSlice('\n')
	}
	return b, tooLong, err
}

// parseJSONLines reads JSON lines from body into sink until EOF, a read error or ctx ends.
func parseJSONLines(ctx context.Context, body io.Reader, sink importSink) error {
	br := bufio.NewReaderSize(body, 1<<20)
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br)
		switch {
		case tooLong:
			sink.reject(line, "", fmt.Sprintf("line is longer than %d bytes", maxLine))
		case line == 1:
			decodeLine(sink, line, bytes.TrimPrefix(b, []byte("\ufeff"))) // spreadsheet exports may start with a byte order mark
		default:
			decodeLine(sink, line, b)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func decodeLine(sink importSink, line int, b []byte) {
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	var rec record.Record
	if err := rec.UnmarshalJSONLine(b); err != nil {
		msg := err.Error()
		if !errors.Is(err, record.ErrTrailingData) {
			msg = wire.DecodeError(err).Error()
		}
		sink.reject(line, "", msg)
		return
	}
	sink.add(line, rec)
}

// csvFields maps CSV header names to record fields; other_serials are '|'-separated in one cell.
var csvFields = map[string]func(*record.Record, string){
	"id": func(r *record.Record, v string) { r.ID = v }, "serial": func(r *record.Record, v string) { r.Serial = v },
	"other_serials": func(r *record.Record, v string) {
		if v != "" {
			r.OtherSerials = strings.Split(v, "|")
		}
	},
	"make": func(r *record.Record, v string) { r.Make = v }, "model": func(r *record.Record, v string) { r.Model = v },
	"calibre": func(r *record.Record, v string) { r.Calibre = v }, "type": func(r *record.Record, v string) { r.Type = v },
	"country_of_manufacture": func(r *record.Record, v string) { r.CountryOfManufacture = v },
	"recording_country":      func(r *record.Record, v string) { r.RecordingCountry = v },
	"status":                 func(r *record.Record, v string) { r.Status = v },
	"event_date":             func(r *record.Record, v string) { r.EventDate = v },
	"case_reference":         func(r *record.Record, v string) { r.CaseReference = v },
	"remarks":                func(r *record.Record, v string) { r.Remarks = v },
	"review_date":            func(r *record.Record, v string) { r.ReviewDate = v },
}

func (imp *importer) readCSV(body io.Reader) error { return parseCSV(imp.ctx, body, imp) }

// parseCSV reads a CSV import (a header row of field names, then one record per row) from body into
// sink until EOF, a read error or ctx ends. A bad header is the whole import's error; a bad row is
// that row's rejection.
func parseCSV(ctx context.Context, body io.Reader, sink importSink) error {
	budget := &csvBudget{r: body}
	cr := csv.NewReader(bufio.NewReaderSize(budget, csvReadAhead))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	budget.limit = maxLine + csvReadAhead
	header, err := cr.Read()
	if err != nil {
		return wire.Errorf(wire.Invalid, "invalid_csv", "cannot read the CSV header row: %v", err)
	}
	next := 2 // the line the next record starts at, at the earliest (blank lines are skipped)
	setters := make([]func(*record.Record, string), len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if setters[i] = csvFields[h]; setters[i] == nil {
			return wire.FieldError(h, fmt.Sprintf("unknown CSV column %q", h))
		}
	}
	for {
		budget.limit = cr.InputOffset() + maxLine + csvReadAhead
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			sink.reject(pe.StartLine, "", pe.Err.Error())
			next = pe.Line + 1
			continue
		}
		if errors.Is(err, errRecordTooLong) {
			// Where the record ends cannot be known (an unclosed quote runs to the end of the
			// file); what follows is read and dropped so the client gets its answer.
			sink.reject(next, "", fmt.Sprintf("a CSV record starting at or after this line is longer than %d bytes (an unclosed quote?); the rest of the file was not imported", maxLine))
			_, err := io.Copy(io.Discard, body)
			return err
		}
		if err != nil {
			return err
		}
		// Only a row that was read has field positions: FieldPos panics after a parse error.
		line, _ := cr.FieldPos(0)
		last, _ := cr.FieldPos(len(row) - 1)
		next = last + strings.Count(row[len(row)-1], "\n") + 1
		if len(row) != len(setters) {
			sink.reject(line, "", fmt.Sprintf("has %d fields, the header has %d", len(row), len(setters)))
			continue
		}
		var rec record.Record
		for i, v := range row {
			setters[i](&rec, v)
		}
		sink.add(line, rec)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// csvReadAhead is the CSV reader's buffer.
const csvReadAhead = 256 << 10

// errRecordTooLong stops a CSV import at a record over maxLine bytes.
var errRecordTooLong = errors.New("csv record too long")

// csvBudget bounds how far a CSV reader may read past the start of the record it is reading:
// encoding/csv keeps a whole record (a quoted field may span any number of lines) in memory, so an
// unclosed quote or a 50 MB field would otherwise take all of it.
type csvBudget struct {
	r     io.Reader
	read  int64 // bytes handed to the reader so far
	limit int64 // the reader may not read past this offset
}

func (b *csvBudget) Read(p []byte) (int, error) {
	room := b.limit - b.read
	if room <= 0 {
		return 0, errRecordTooLong
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (imp *importer) reject(line int, id, msg string) {
	imp.mu.Lock()
	imp.rejected.add(wire.Rejection{Line: line, ID: id, Error: msg})
	imp.mu.Unlock()
}

// add validates one record and queues it for its shard.
func (imp *importer) add(line int, rec record.Record) {
	rec.Normalize()
	if err := rec.Validate(isCountry); err != nil {
		imp.reject(line, rec.ID, err.Error())
		return
	}
	shard, err := imp.n.ownedShard(imp.p, &rec)
	if err != nil {
		ae := apiError(err)
		imp.reject(line, rec.ID, ae.Code+": "+ae.Message)
		return
	}
	b := imp.pending[shard]
	if b == nil {
		b = &importBatch{shard: shard}
		imp.pending[shard] = b
	}
	b.lines = append(b.lines, line)
	b.records = append(b.records, rec)
	b.bytes += recordWireSize(&rec)
	if len(b.records) >= imp.n.cfg.Raft.ApplyBatch || b.bytes >= maxBatchBytes {
		imp.flush(shard)
	}
}

// flush applies a shard's pending batch in the background, waiting for a free slot first.
func (imp *importer) flush(shard string) {
	b := imp.pending[shard]
	delete(imp.pending, shard)
	if b == nil || len(b.records) == 0 {
		return
	}
	imp.sem <- struct{}{}
	imp.wg.Add(1)
	go func() {
		defer func() { <-imp.sem; imp.wg.Done() }()
		imp.apply(b)
	}()
}

func (imp *importer) apply(b *importBatch) {
	// Ids are unique across the federation: the shard's leader refuses an id another shard has
	// (ids.go, in apply); a node that does not lead the shard answers early for what it holds.
	if g := imp.n.groups[b.shard]; g == nil || !g.IsLeader() {
		if refused := imp.n.foreignIDs(b.shard, b.records); len(refused) > 0 {
			if b = imp.drop(b, refused); len(b.records) == 0 {
				return
			}
		}
	}
	cmd := &replication.Command{Op: replication.OpUpsert, Principal: principalOf(imp.p), Records: b.records}
	// The apply goes on even if the client went away: the batch is already ordered or about to be.
	res, err := imp.n.applyValid(context.WithoutCancel(imp.ctx), b.shard, cmd) // every record was validated in add
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if err != nil {
		for i, line := range b.lines {
			imp.rejected.add(wire.Rejection{Line: line, ID: b.records[i].ID, Error: apiError(err).Message})
		}
		return
	}
	failed := make(map[int]bool, len(res.Errors))
	for _, e := range res.Errors {
		failed[e.Index] = true
		imp.rejected.add(wire.Rejection{Line: b.lines[e.Index], ID: e.ID, Error: e.Code + ": " + e.Message})
	}
	before := imp.accepted
	imp.accepted += res.Applied
	if imp.accepted/100000 != before/100000 {
		imp.n.log.Info("import progress", "agency", imp.p.Agency, "accepted", imp.accepted, "rejected", imp.rejected.count)
	}
	ids := make([]string, 0, res.Applied)
	for i := range b.records {
		if !failed[i] {
			ids = append(ids, b.records[i].ID)
		}
	}
	pending := imp.n.audit.Append(audit.Entry{TokenID: imp.p.TokenID, Agency: imp.p.Agency, Country: imp.p.Country,
		Action: "import", ResultIDs: ids, Outcome: "ok"})
	imp.audits = append(imp.audits, pending) // imp.mu is held
}

// drop rejects the refused records of b and returns the batch of the others.
func (imp *importer) drop(b *importBatch, refused []replication.ItemError) *importBatch {
	out := make([]bool, len(b.records))
	imp.mu.Lock()
	for _, e := range refused {
		out[e.Index] = true
		imp.rejected.add(wire.Rejection{Line: b.lines[e.Index], ID: e.ID, Error: e.Code + ": " + e.Message})
	}
	imp.mu.Unlock()
	kept := &importBatch{shard: b.shard}
	for i := range b.records {
		if !out[i] {
			kept.lines = append(kept.lines, b.lines[i])
			kept.records = append(kept.records, b.records[i])
		}
	}
	return kept
}

// ownedShard checks, when a write is ordered, that the principal may write the record, and returns
// the shard that holds it. The shard's FSM checks again when the write is applied.
func (n *Node) ownedShard(p auth.Principal, rec *record.Record) (string, error) {
	if !p.Has("admin") && rec.RecordingCountry != p.Country {
		return "", wire.Errorf(wire.Forbidden, "forbidden", "recording_country %s: %s may only write records of %s",
			rec.RecordingCountry, p.Agency, orNone(p.Country))
	}
	shard, ok := n.shardMap.Shard(rec.RecordingCountry)
	if !ok {
		return "", wire.FieldError("recording_country", "no shard for recording_country "+rec.RecordingCountry)
	}
	if _, held := n.groups[shard]; !held && n.fed == nil {
		return "", wire.Errorf(wire.Unavailable, "unavailable", "shard %s (recording_country %s) is not held by this node", shard, rec.RecordingCountry)
	}
	return shard, nil
}

func principalOf(p auth.Principal) replication.Principal {
	return replication.Principal{Agency: p.Agency, Country: p.Country, Admin: p.Has("admin")}
}

func isCountry(code string) bool {
	_, ok := reference.Country(code)
	return ok
}
