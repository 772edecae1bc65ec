package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/transport"
)

// A frame is a uvarint length and a JSON document. Its length comes from the peer, who may be
// hostile: a frame over its protocol's limit is refused at the prefix, and the buffer grows only as
// the bytes arrive, so announcing 64 MiB and sending nothing costs nothing. The limits are the
// biggest honest message of each protocol with room to spare (node/DESIGN.md gives the sums).

// frameLimit is the largest request a server reads and the largest answer a caller reads on one
// protocol.
type frameLimit struct{ request, answer int }

var frameLimits = map[string]frameLimit{
	// An import batch: at most maxBatchBytes of encoded records (base64 in the JSON: 4/3 of it),
	// or apply_batch records; answered with one error per refused record at most.
	transport.ProtoApply: {request: 16 << 20, answer: 4 << 20},
	// A hit (one record, the query, the why) or a trace with its answers; answered with a time.
	transport.ProtoMessage: {request: 4 << 20, answer: 64 << 10},
	// A query of a few bounded fields; answered with at most max_search_limit records.
	transport.ProtoSearch: {request: 64 << 10, answer: 8 << 20},
	// A roster entry or revocation signed by the root key; answered with an index.
	transport.ProtoControl: {request: 256 << 10, answer: 64 << 10},
	// A batch of lateBatch searches handed over (each a bounded query and at most
	// max_search_limit ids), or one late hit; answered with the ids refused.
	transport.ProtoLate: {request: 4 << 20, answer: 64 << 10},
}

// defaultFrameLimit bounds a frame read without a protocol's limit (readFrame): the largest limit.
const defaultFrameLimit = 16 << 20

// maxBatchBytes is where an import cuts a batch short of apply_batch records, so that a forwarded
// batch stays under the apply frame limit whatever its records weigh (a record may reach ~10 KB
// within validation's limits; 4,000 of those would be 40 MB).
const maxBatchBytes = 8 << 20

// frameChunk is how much a frame's buffer grows at a time, at most, as its bytes arrive.
const frameChunk = 64 << 10

// Time a peer has to send its request: the length prefix within frameHeaderTimeout, then the body
// at no less than frameMinRate bytes a second (plus frameHeaderTimeout), within the stream's 60 s.
const (
	frameHeaderTimeout = 10 * time.Second
	frameMinRate       = 32 << 10
)

// errFrameTooBig is a frame over its protocol's limit.
var errFrameTooBig = errors.New("frame over the limit")

// errOverBudget is a request refused because its sender already has frameBudgetPerPeer bytes of
// requests in flight here.
var errOverBudget = errors.New("too many bytes of requests in flight from this member")

func limitOf(proto string) frameLimit {
	if l, ok := frameLimits[proto]; ok {
		return l
	}
	return frameLimit{request: defaultFrameLimit, answer: defaultFrameLimit}
}

// readFrame reads one frame of at most defaultFrameLimit bytes into v.
func readFrame(r *bufio.Reader, v any) error {
	return readFrameLimit(r, v, defaultFrameLimit, nil)
}

// readFrameLimit reads one frame of at most limit bytes into v. The body is read frameChunk at a
// time into a buffer that grows as it arrives; before each chunk, grant (when set) is told the
// frame's length and asked for the chunk's, and may refuse it.
func readFrameLimit(r *bufio.Reader, v any, limit int, grant func(frame, chunk int) error) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("frame length: %w", err)
	}
	if n > uint64(limit) {
		return fmt.Errorf("frame of %d bytes, limit %d: %w", n, limit, errFrameTooBig)
	}
	var buf bytes.Buffer
	for left := int64(n); left > 0; {
		chunk := min(left, frameChunk)
		if grant != nil {
			if err := grant(int(n), int(chunk)); err != nil {
				return err
			}
		}
		if _, err := io.CopyN(&buf, r, chunk); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("frame of %d bytes: %w", n, err)
		}
		left -= chunk
	}
	return json.Unmarshal(buf.Bytes(), v)
}

// frameBudget bounds the bytes of requests being read or handled at once, per member and in all:
// streams are cheap to open, and each may carry a frame up to its limit.
type frameBudget struct {
	mu           sync.Mutex // guards inUse and total
	inUse        map[peer.ID]int
	total        int
	perPeer, all int
}

// Budgets: a member may have four full import batches in flight at once (an import keeps up to
// eight smaller ones), all members together sixteen.
const (
	frameBudgetPerPeer = 64 << 20
	frameBudgetAll     = 256 << 20
)

func newFrameBudget() *frameBudget {
	return &frameBudget{inUse: map[peer.ID]int{}, perPeer: frameBudgetPerPeer, all: frameBudgetAll}
}

// take books n bytes for p, or refuses with errOverBudget.
func (b *frameBudget) take(p peer.ID, n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inUse[p]+n > b.perPeer || b.total+n > b.all {
		return fmt.Errorf("%d bytes booked by this member, %d in all: %w", b.inUse[p], b.total, errOverBudget)
	}
	b.inUse[p] += n
	b.total += n
	return nil
}

// give returns n bytes booked for p.
func (b *frameBudget) give(p peer.ID, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	if b.inUse[p] -= n; b.inUse[p] <= 0 {
		delete(b.inUse, p)
	}
}

// recordWireSize is about what r takes in a command: its fields and their length prefixes.
func recordWireSize(r *record.Record) int {
	n := 16 + len(r.ID) + len(r.Serial) + len(r.Make) + len(r.Model) + len(r.Calibre) + len(r.Type) +
		len(r.CountryOfManufacture) + len(r.RecordingCountry) + len(r.Status) + len(r.EventDate) +
		len(r.CaseReference) + len(r.Remarks) + len(r.ReviewDate)
	for _, s := range r.OtherSerials {
		n += 2 + len(s)
	}
	return n
}
