package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// Bulk screening (POST /v1/search/batch, `fedarms screen`): a customs manifest, a dealer's
// inventory or an auction catalogue screened in one request. Each line is a search like
// POST /v1/search: matched, audited (its entry names the screening), a HIT notified like any hit.
// Lines are matched by four workers per CPU and answered in their order; a line's answer leaves only
// once its audit entry is durable when audit.durability is sync, as a single search's does, but
// the entries of many lines share each journal commit. Screened lines are not kept in the late
// window (that window holds officers' searches and has a size bound a manifest would flush); a
// screening is a check at one moment, to be run again later.

// batchWindow bounds the lines in flight between the reader and the writer: memory stays flat
// however long the screening, and a slow client slows the matching down rather than piling up
// answers.
const batchWindow = 1024

// batchLine is one line on its way through the pipeline.
type batchLine struct {
	line    int
	raw     []byte
	answer  any           // wire.BatchAnswer or wire.BatchError
	hit     bool          // the answer holds a HIT
	pending audit.Pending // the line's audit entry (zero for an error line)
	audited bool
	done    chan struct{} // closed when answer is set
}

// SearchBatch screens the JSON lines of body, one search request each (the fields of
// POST /v1/search), and hands emit one answer per line in the order of the lines (wire.BatchAnswer or
// wire.BatchError), then the wire.BatchDone. idle is called whenever the next answer is not ready yet, so a
// streaming caller can flush what it has written. An error from emit (the client went away) or ctx
// stops the screening; lines already answered stay audited.
func (n *Node) SearchBatch(ctx context.Context, p auth.Principal, body io.Reader, emit func(any) error, idle func()) (wire.BatchDone, error) {
	ctx, cancel := context.WithCancel(ctx)
	done := wire.BatchDone{Done: true, Batch: newID("b")}
	order := make(chan *batchLine, batchWindow)
	work := make(chan *batchLine, batchWindow)
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		readErr = readBatchLines(ctx, body, func(l *batchLine) bool {
			select {
			case order <- l:
			case <-ctx.Done():
				return false
			}
			work <- l // never blocks for long: work has the room order had
			return true
		})
	}()
	cov := &batchCoverage{n: n}
	var wg sync.WaitGroup
	// More workers than CPUs: a line with a HIT waits for its notification's commit, and the CPU
	// should go on matching meanwhile.
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range work {
				n.screenLine(ctx, p, done.Batch, cov, l)
				close(l.done)
			}
		}()
	}
	defer func() {
		cancel() // the reader stops, closing work, so the workers end
		wg.Wait()
	}()
	durable := n.cfg.Audit.Durability == "sync"
	for {
		var l *batchLine
		var more bool
		select {
		case l, more = <-order:
		default:
			idle() // the next line is still being read
			l, more = <-order
		}
		if !more {
			break
		}
		select {
		case <-l.done:
		default:
			idle()
			<-l.done
		}
		if durable && l.audited {
			if _, err := l.pending.Wait(ctx); err != nil {
				return done, err
			}
		}
		if err := emit(l.answer); err != nil {
			return done, fmt.Errorf("write answer of line %d: %w", l.line, err)
		}
		done.Count++
		if l.hit {
			done.Hits++
		}
		if _, ok := l.answer.(wire.BatchError); ok {
			done.Errors++
		}
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

// readBatchLines reads body's lines (blank lines skipped, each numbered by its place in the body)
// and hands each to next until EOF, a read error, or next returns false.
func readBatchLines(ctx context.Context, body io.Reader, next func(*batchLine) bool) error {
	br := bufio.NewReaderSize(body, 1<<16)
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br)
		l := &batchLine{line: line, done: make(chan struct{})}
		switch {
		case tooLong:
			l.answer = wire.BatchError{Line: line, Error: wire.Errorf(wire.Invalid, "invalid_json", "line is longer than %d bytes", maxLine)}
		case len(bytes.TrimSpace(b)) == 0:
			l = nil
		default:
			l.raw = append([]byte(nil), b...)
		}
		if l != nil && !next(l) {
			return ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", line, err)
		}
	}
}

// screenLine searches one line and records it like a search.
func (n *Node) screenLine(ctx context.Context, p auth.Principal, batch string, cov *batchCoverage, l *batchLine) {
	if l.answer != nil { // refused while reading
		return
	}
	t0 := n.now()
	var req wire.SearchRequest
	err := wire.DecodeStrict(bytes.NewReader(l.raw), &req)
	if err == nil {
		err = n.checkSearch(&req)
	}
	if err == nil {
		err = n.checkOnBehalfOf(p, req.OnBehalfOf)
	}
	if err == nil {
		err = n.checkReads(p, req)
	}
	if err != nil {
		l.answer = wire.BatchError{Line: l.line, Error: apiError(err)}
		return
	}
	resp, hits := n.matchCovered(ctx, p, req, cov.get())
	resp.Results, resp.Limited = n.reads.take(p, n.now(), resp.Results)
	entry := searchEntry(p, req, resp, batch)
	pending, err := n.recordSearch(ctx, entry, hits)
	if err != nil {
		l.answer = wire.BatchError{Line: l.line, Error: apiError(err)}
		return
	}
	l.pending, l.audited, l.hit = pending, true, len(hits) > 0
	l.answer = wire.BatchAnswer{Line: l.line, SearchID: resp.SearchID, Results: resp.Results}
	n.met.observeSearch(resp.Results, n.since(t0))
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
