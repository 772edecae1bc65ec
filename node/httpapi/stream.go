package httpapi

import (
	"io"
	"net/http"
	"time"
)

// A stream (an import's body, a screening's body and answer, the hits stream) may last longer than
// the server's read and write timeouts; instead it is held to its own limit: it is cut once no byte
// has moved for streamIdle. The deadlines are pushed forward as bytes move, at most once a second.
// Deadlines are on the wall clock: they are the network's, not the node's.

// deadlineEvery is how often a moving stream pushes its deadline forward.
const deadlineEvery = time.Second

// streamDeadlines pushes a stream's read and write deadlines forward while it moves.
type streamDeadlines struct {
	rc        *http.ResponseController
	idle      time.Duration
	nextRead  time.Time
	nextWrite time.Time
}

func newStreamDeadlines(w http.ResponseWriter, idle time.Duration) *streamDeadlines {
	return &streamDeadlines{rc: http.NewResponseController(w), idle: idle}
}

// reading is called before each read of the body.
func (d *streamDeadlines) reading() {
	// wall clock: a connection's deadline is the network's, not the node's time.
	if now := time.Now(); now.After(d.nextRead) {
		_ = d.rc.SetReadDeadline(now.Add(d.idle))
		d.nextRead = now.Add(deadlineEvery)
	}
}

// writing is called before each write of the answer.
func (d *streamDeadlines) writing() {
	// wall clock: a connection's deadline is the network's, not the node's time.
	if now := time.Now(); now.After(d.nextWrite) {
		_ = d.rc.SetWriteDeadline(now.Add(d.idle))
		d.nextWrite = now.Add(deadlineEvery)
	}
}

// holdWrites lifts the write deadline while the answer is not being written yet (an import answers
// once every batch is applied, which may take longer than the write timeout).
func (d *streamDeadlines) holdWrites() { _ = d.rc.SetWriteDeadline(time.Time{}) }

// streamBody is a request body whose read deadline moves with it. Once the body has ended the
// server reads the connection in the background with no deadline (to see the client go), and a
// deadline set then would end the request at its expiry: none is set after the end.
type streamBody struct {
	io.ReadCloser
	d   *streamDeadlines
	end error // what ended the body (io.EOF, a read error)
}

func (b *streamBody) Read(p []byte) (int, error) {
	if b.end != nil {
		return 0, b.end
	}
	b.d.reading()
	n, err := b.ReadCloser.Read(p)
	b.end = err
	return n, err
}

// streamWriter is an answer whose write deadline moves with it.
type streamWriter struct {
	w io.Writer
	d *streamDeadlines
}

func (s streamWriter) Write(p []byte) (int, error) {
	s.d.writing()
	return s.w.Write(p)
}
