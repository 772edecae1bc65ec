package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	bolt "go.etcd.io/bbolt"
)

// Bulk screening (POST /v1/search/batch, `fedarms screen`): a customs manifest, a dealer's
// inventory or an auction catalogue screened in one request. Each line is a search like
// POST /v1/search: matched, audited (its entry names the screening), a HIT notified like any hit.
// Lines are matched in chunks by four workers per CPU (the records a chunk's lines found are read in
// one transaction, and each answer is encoded by the worker that matched it) and answered in their
// order; a line's answer leaves only once its audit entry is durable when audit.durability is sync,
// as a single search's does, but the entries of many lines share each journal commit. Screened lines are not kept in the late
// window (that window holds officers' searches and has a size bound a manifest would flush); a
// screening is a check at one moment, to be run again later.

// batchChunkLines is the most lines matched together: their records are read in one read
// transaction per shard (in key order, so that neighbouring reads share pages), their answers
// encoded into one buffer, their audit entries appended as one group (one commit's worth), and a
// worker takes a chunk at a time. A chunk ends early when the next line is not there yet (a client
// may wait for the answers to its first lines before it sends more). 256 rather than 64: a
// screened line cost ~5% less CPU, most of it in the audit writer's commits (node/DESIGN.md).
const batchChunkLines = 256

// batchWindow bounds what is in flight between the reader and the writer, in units of about a
// line's worth of memory (lineUnits): memory stays flat however long the screening, and a slow
// client slows the matching down rather than piling up answers. At most ~8 MiB of lines and, as a
// line of the default limit answers at most 10 results a unit, ~16-32 MiB of answers. It counts
// lines, not chunks: a client whose lines arrive a few at a time makes small chunks, and a window
// of chunks would then hold too few lines to keep the CPUs busy while the audit commits they wait
// for sync. 32 whole chunks: the workers go on matching while the chunks before them wait for
// their commit (16 left the CPUs idle 3-4% of a screening, node/DESIGN.md).
const batchWindow = 32 * batchChunkLines

// batchChunkBytes ends a chunk early once its lines hold this many bytes: the chunk being read is
// outside batchWindow, and 256 lines at the line limit would be 16 MiB.
const batchChunkBytes = 256 << 10

// batchLineUnit is the bytes of a line that weigh one more unit of batchWindow.
const batchLineUnit = 1 << 10

// batchLimitUnits is what a line that may ask for more results than the default weighs beside its
// bytes: up to limits.max_search_limit (100) results, ten times a default answer and more.
const batchLimitUnits = 20

// lineUnits is what line l of raw weighs in batchWindow: one unit, one more a batchLineUnit of its
// bytes, and batchLimitUnits more when it may set a limit. The reader does not decode lines, so a
// line is taken to set one when it holds "limit" in any case, or a backslash (a key can be
// written with escapes); a value that happens to hold either only weighs more.
func lineUnits(raw []byte, l batchLine) int {
	line := raw[l.start:l.end]
	u := 1 + len(line)/batchLineUnit
	if bytes.IndexByte(line, '\\') >= 0 || containsFold(line, "limit") {
		u += batchLimitUnits
	}
	return u
}

// containsFold reports whether b holds the ASCII lower-case word w in any case.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for j < len(w) && b[i+j]|0x20 == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// batchLine is one line of a chunk.
type batchLine struct {
	line       int
	start, end int // the line's bytes in the chunk's raw
	tooLong    bool
	units      int // what it weighs in batchWindow (lineUnits), taken when read, given back when answered
}

// batchChunk is a run of consecutive lines on their way through the pipeline.
type batchChunk struct {
	lines   []batchLine
	raw     []byte
	out     []byte         // the answers, JSON lines in the lines' order
	entries []audit.Entry  // the audit entries of the searched lines, in order
	pending audit.Pending  // ... appended as one group (with every hit of the chunk)
	hits    [][]notify.Hit // each searched line's hits, published once its entry is durable
	anyHit  bool
	errors  int           // lines answered with an error
	done    chan struct{} // closed when out is complete
}

// SearchBatch screens the JSON lines of body, one search request each (the fields of
// POST /v1/search), and hands emit the answers in the order of the lines, one per line
// (wire.BatchLines: the answers already encoded, wire.BatchAnswer or wire.BatchError each), then
// the wire.BatchDone; emit must not keep a wire.BatchLines once it returns (its memory answers
// later lines). idle is called whenever the next answers are not ready yet, so a streaming
// caller can flush what it has written. An error from emit (the client went away) or ctx stops the
// screening; lines already answered stay audited.
func (n *Node) SearchBatch(ctx context.Context, p auth.Principal, body io.Reader, emit func(any) error, idle func()) (wire.BatchDone, error) {
	ctx, cancel := context.WithCancel(ctx)
	done := wire.BatchDone{Done: true, Batch: newID("b")}
	order := make(chan *batchChunk, batchWindow) // every chunk holds a line: room is the bound
	work := make(chan *batchChunk, batchWindow)
	room := make(chan struct{}, batchWindow) // a token per unit in flight (lineUnits)
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		readErr = readBatchChunks(ctx, body, func(c *batchChunk) bool {
			for i := range c.lines {
				c.lines[i].units = lineUnits(c.raw, c.lines[i])
				for range c.lines[i].units {
					select {
					case room <- struct{}{}:
					case <-ctx.Done():
						return false
					}
				}
			}
			order <- c // never blocks: a chunk holds a token, and order and work hold as many chunks as room tokens
			work <- c
			return true
		})
	}()
	cov := &batchCoverage{n: n}
	var wg sync.WaitGroup
	// More workers than CPUs: a worker waits now and then (the audit queue, a record read from
	// disk), and the CPU should go on matching meanwhile.
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc screenScratch
			for c := range work {
				n.screenChunk(ctx, p, done.Batch, cov, c, &sc)
				close(c.done)
			}
		}()
	}
	var current *batchChunk // the chunk being answered
	defer func() {
		cancel() // the reader stops, closing work, so the workers end
		wg.Wait()
		// The hits of chunks matched but not answered (the client went away) are committed or
		// about to be: publish them all the same, as a single search would have.
		if current != nil {
			_, _ = n.settleChunk(context.Background(), current, false)
		}
		for c := range order {
			select {
			case <-c.done:
				_, _ = n.settleChunk(context.Background(), c, false)
			default:
			}
		}
	}()
	durable := n.cfg.Audit.Durability == "sync"
	for {
		var c *batchChunk
		var more bool
		select {
		case c, more = <-order:
		default:
			idle() // the next lines are still being read
			c, more = <-order
		}
		if !more {
			break
		}
		select {
		case <-c.done:
		default:
			idle()
			<-c.done
		}
		current = c
		hits, err := n.settleChunk(ctx, c, durable)
		done.Hits += hits
		if err != nil {
			return done, err
		}
		if err := emit(wire.BatchLines(c.out)); err != nil {
			return done, fmt.Errorf("write answers of lines %d-%d: %w", c.lines[0].line, c.lines[len(c.lines)-1].line, err)
		}
		putAnswerBuffer(c.out) // emit wrote it out; it does not keep it
		c.out = nil
		for _, l := range c.lines {
			for range l.units {
				<-room
			}
		}
		done.Count += len(c.lines)
		done.Errors += c.errors
	}
	if readErr != nil {
		return done, readErr
	}
	if err := ctx.Err(); err != nil {
		return done, err
	}
	done.Coverage = n.coverage()
	n.log.Info("screening done", "agency", p.Agency, "batch", done.Batch, "lines", done.Count, "hits", done.Hits, "errors", done.Errors)
	return done, emit(done)
}

// settleChunk waits for the audit entries that must be durable before c's answers leave (every one
// when durable, those with hits always, as for a single search) and publishes the hits. It returns
// how many lines had hits published now.
func (n *Node) settleChunk(ctx context.Context, c *batchChunk, durable bool) (int, error) {
	if len(c.entries) == 0 || !durable && !c.anyHit {
		return 0, nil
	}
	if _, err := c.pending.Wait(ctx); err != nil {
		return 0, err
	}
	lines := 0
	for i, hits := range c.hits {
		if len(hits) > 0 {
			n.publishHits(hits)
			c.hits[i] = nil // published once, should the chunk be settled again
			lines++
		}
	}
	c.anyHit = false
	return lines, nil
}

// readBatchChunks reads body's lines (blank lines skipped, each numbered by its place in the body)
// into chunks and hands each to next until EOF, a read error, or next returns false.
func readBatchChunks(ctx context.Context, body io.Reader, next func(*batchChunk) bool) error {
	br := bufio.NewReaderSize(body, 1<<16)
	c := &batchChunk{done: make(chan struct{})}
	send := func() bool {
		if len(c.lines) == 0 {
			return true
		}
		ok := next(c)
		c = &batchChunk{done: make(chan struct{})}
		return ok
	}
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br)
		switch {
		case tooLong:
			c.lines = append(c.lines, batchLine{line: line, tooLong: true})
		case len(bytes.TrimSpace(b)) == 0:
		default:
			if c.raw == nil {
				c.raw = make([]byte, 0, 4096) // a chunk's lines, 60-100 bytes each: grown once or twice
			}
			start := len(c.raw)
			c.raw = append(c.raw, b...)
			c.lines = append(c.lines, batchLine{line: line, start: start, end: len(c.raw)})
		}
		if errors.Is(err, io.EOF) {
			if !send() {
				return ctx.Err()
			}
			return nil
		}
		if err != nil {
			if !send() {
				return ctx.Err()
			}
			return fmt.Errorf("read line %d: %w", line, err)
		}
		if (len(c.lines) >= batchChunkLines || len(c.raw) >= batchChunkBytes || br.Buffered() == 0) && !send() {
			return ctx.Err()
		}
	}
}

// screenedLine is a chunk's line between its match and its answer.
type screenedLine struct {
	req          wire.SearchRequest
	err          error
	found        []matcher.Result
	first, count int // its records in the chunk's record read
	took         time.Duration
}

// screenScratch is a worker's memory, reused from one chunk to the next: the lines, the ids found
// and the records read for them, a line's results. Nothing of it outlives the chunk (answers are
// encoded, audit entries and hits copy what they keep), and allocating it for each chunk was a
// good part of a screening's garbage.
type screenScratch struct {
	lines       []screenedLine
	ids, shards []string
	recs        []record.Record
	found       []bool
	results     []wire.SearchResult
}

// answerBuffers holds chunks' answer buffers once written out (*[]byte): they have grown to what
// a chunk's answers take, and a new one for each chunk was the largest allocation of a screening.
var answerBuffers sync.Pool

// answerBufferMax is the largest buffer kept for reuse: a chunk of lines with many long records
// should not pin its memory for the rest of the process.
const answerBufferMax = 4 << 20

func getAnswerBuffer(size int) []byte {
	if b, ok := answerBuffers.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

func putAnswerBuffer(b []byte) {
	if cap(b) > 0 && cap(b) <= answerBufferMax {
		b = b[:0]
		answerBuffers.Put(&b)
	}
}

// screenChunk searches a chunk's lines and records each like a search. The index is searched line
// by line, the records found for all of them are read together, and each line is then finished,
// audited and encoded as a single search is.
func (n *Node) screenChunk(ctx context.Context, p auth.Principal, batch string, cov *batchCoverage, c *batchChunk, sc *screenScratch) {
	lines := slices.Grow(sc.lines[:0], len(c.lines))[:len(c.lines)]
	clear(lines)
	sc.lines = lines
	ids, shards := sc.ids[:0], sc.shards[:0]
	c.out = getAnswerBuffer(2048 * len(c.lines)) // about what a line with results takes
	c.entries = make([]audit.Entry, 0, len(c.lines))
	c.hits = make([][]notify.Hit, 0, len(c.lines))
	for i, bl := range c.lines {
		s := &lines[i]
		if bl.tooLong {
			s.err = wire.Errorf(wire.Invalid, "invalid_json", "line is longer than %d bytes", maxLine)
			continue
		}
		t0 := n.now()
		s.err = wire.DecodeSearchRequest(c.raw[bl.start:bl.end], &s.req)
		if s.err == nil {
			s.err = n.checkSearch(&s.req)
		}
		if s.err == nil {
			s.err = n.checkOnBehalfOf(p, s.req.OnBehalfOf)
		}
		if s.err == nil {
			s.err = n.checkReads(p, s.req)
		}
		if s.err != nil {
			s.err = apiError(s.err)
			continue
		}
		var sh []string
		s.found, sh = n.searchIndex(s.req)
		s.first, s.count = len(ids), len(s.found)
		for _, f := range s.found {
			ids = append(ids, f.Key)
		}
		shards = append(shards, sh...)
		s.took = n.since(t0)
	}
	sc.ids, sc.shards = ids, shards
	t0 := n.now()
	sc.recs = slices.Grow(sc.recs[:0], len(ids))[:len(ids)]
	sc.found = slices.Grow(sc.found[:0], len(ids))[:len(ids)]
	clear(sc.found)
	n.readRecords(ids, shards, sc.recs, sc.found)
	recs, ok := sc.recs, sc.found
	readShare := n.since(t0) / time.Duration(max(1, len(lines)))
	coverage := cov.get()
	for i, bl := range c.lines {
		s := &lines[i]
		s.took += readShare
		if s.err == nil {
			s.err = n.screenedAnswer(ctx, p, batch, coverage, bl.line, s, recs[s.first:s.first+s.count], ok[s.first:s.first+s.count], c, sc)
		}
		if s.err != nil {
			b, _ := json.Marshal(wire.BatchError{Line: bl.line, Error: apiError(s.err)})
			c.out = append(append(c.out, b...), '\n')
			c.errors++
		}
	}
	n.auditChunk(c)
}

// auditChunk appends the audit entries of c's searched lines as one group, with the notifications
// of all their hits in the same commit: a chunk is one request to the audit writer and at least
// one commit's worth of entries (one request a line had made commits of a dozen entries, nearly
// every one a node.db transaction for the hit it carried).
func (n *Node) auditChunk(c *batchChunk) {
	if len(c.entries) == 0 {
		return
	}
	var hits []notify.Hit
	for _, h := range c.hits {
		hits = append(hits, h...)
	}
	if len(hits) == 0 {
		c.pending = n.audit.AppendGroup(c.entries, nil)
		return
	}
	c.anyHit = true
	c.pending = n.audit.AppendGroup(c.entries, func(tx *bolt.Tx) error { return notify.PutTx(tx, hits) })
}

// screenedAnswer finishes a searched line of c like a single search (remote shards, order, limit,
// hits, read limits), appends its answer to c and queues its audit entry.
func (n *Node) screenedAnswer(ctx context.Context, p auth.Principal, batch string, cov wire.Coverage, line int, s *screenedLine,
	recs []record.Record, ok []bool, c *batchChunk, sc *screenScratch) error {
	t0 := n.now()
	resp := &wire.SearchResponse{SearchID: newID("s"), Coverage: cov}
	resp.Results = n.foundResults(sc.results[:0], s.found, recs, ok, nil)
	sc.results = resp.Results[:0]
	hits := n.finishMatch(ctx, p, s.req, resp)
	resp.Results, resp.Limited = n.reads.take(p, n.now(), resp.Results)
	out, err := wire.AppendBatchAnswer(c.out, wire.BatchAnswer{Line: line, SearchID: resp.SearchID, Results: resp.Results})
	if err != nil {
		return err
	}
	c.out = out
	// The writer waits for the entry (and publishes the hits) before the answer leaves, so that
	// this worker goes on matching while the commit syncs; the chunk's entries are appended
	// together once all its lines are answered (auditChunk).
	c.entries = append(c.entries, searchEntry(p, s.req, resp, batch))
	c.hits = append(c.hits, hits)
	n.met.observeSearch(resp.Results, s.took+n.since(t0))
	return nil
}

// batchCoverage is the coverage a screening's lines are matched under, read again once a second:
// which shards are held does not change within a line, and reading every group's freshness for
// each of a million lines would cost more than matching a clear negative.
type batchCoverage struct {
	n    *Node
	mu   sync.Mutex // guards cov and read
	cov  wire.Coverage
	read time.Time
}

func (c *batchCoverage) get() wire.Coverage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.n.now(); now.Sub(c.read) > time.Second {
		c.cov, c.read = c.n.coverage(), now
	}
	return c.cov
}
