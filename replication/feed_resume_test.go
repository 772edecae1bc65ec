package replication

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/testutil"
)

// heldCopy is the part of a copy in chunks a holder cut off would hold: the chunks of a new copy
// from peer up to frac of its body.
type heldCopy struct {
	source         string
	session, total uint64
	chunks         [][]byte
}

func copyHeldAt(t *testing.T, c *feedCluster, peer string, frac float64) heldCopy {
	t.Helper()
	call := askNewCopy(t, c, peer)
	defer call.close()
	hdr, err := readCopyHeader(call.body)
	if err != nil {
		t.Fatal(err)
	}
	hc := heldCopy{source: peer, session: hdr.session, total: hdr.total}
	held := uint64(0)
	buf := make([]byte, copyChunk)
	for float64(held) < frac*float64(hdr.total) {
		data, err := readCopyChunk(call.body, int(min(hdr.total-held, copyChunk)), buf)
		if err != nil {
			t.Fatal(err)
		}
		hc.chunks = append(hc.chunks, bytes.Clone(data))
		held += uint64(len(data))
	}
	return hc
}

// writeTo leaves the copy held in part in a holder's dir, as a holder cut off leaves it.
func (hc heldCopy) writeTo(t *testing.T, dir string, key *seal.Key) {
	t.Helper()
	p, err := createCopyPartial(dir, "europe", key, hc.source, hc.session, hc.total)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range hc.chunks {
		if err := p.append(ch); err != nil {
			t.Fatal(err)
		}
	}
	p.close()
}

// upsertAt writes recs through the leader.
func (c *feedCluster) upsertAt(recs []record.Record) {
	c.t.Helper()
	var err error
	for attempt := 0; attempt < 100; attempt++ {
		_, err = c.waitLeader().g.Apply(context.Background(), &Command{Op: OpUpsert, Principal: Principal{Agency: "FR-NCB", Country: "FR"}, Records: recs})
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal(err)
}

// changeAfterHeld changes the shard after a copy of FR-0000000..FR-<n-1> was cut at 90%: records
// changed and deleted inside the part held, added inside it between held keys, and changed,
// deleted and added after it.
func (c *feedCluster) changeAfterHeld(n int) {
	var recs []record.Record
	for i := 0; i < n; i += n / 200 {
		recs = append(recs, rec(fmt.Sprintf("FR-%07d", i), "FR", fmt.Sprintf("CHANGED%d", i)))
	}
	for i := 0; i < 5; i++ {
		recs = append(recs, rec(fmt.Sprintf("FR-%07da", n/2+i*7), "FR", "ADDED-INSIDE"))
	}
	c.upsertAt(recs)
	c.deleteIDs(n/4, n/4+10)
	c.deleteIDs(n-n/20, n-n/20+10)
	c.write(n, n+n/25, 500)
}

var copyElsewhereReceived = regexp.MustCompile(`msg="feed copy received".* size=(\d+) resumed=(\d+) sent=(\d+) asked=(\d+) held_from=(\S+) kept_records=(\d+) sent_records=(\d+)`)

// A copy cut at 90% from one source, that source gone, resumes from another at a later index (some
// records changed, deleted and added inside and after the part held): only the ranges that changed
// and the rest travel, the state ends with the voters' hash, and the diff held in part is sealed
// on an encrypted data dir and itself resumed after a cut.
func TestFeedCopyResumesFromAnotherSource(t *testing.T) {
	const n = 24000
	c := compactedFeedCluster(t)
	c.write(0, n, 1000)
	c.waitCompacted()
	held := copyHeldAt(t, c, "n3", 0.9)
	c.net.setAway("n3", true)
	c.changeAfterHeld(n)
	c.waitFor("n1 to apply the changes", func() bool {
		return c.members[1].g.State().Stats().AppliedIndex == c.waitLeader().g.State().Stats().AppliedIndex
	})
	key, err := seal.NewKey(seal.Generate())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	held.writeTo(t, dir, key)
	d := &cutDial{dial: c.net.dial, cutAt: 15000, exact: true, hold: 500 * time.Millisecond}
	var logs syncBuffer
	h := c.holder("edge", func(hc *HolderConfig) {
		hc.Dir, hc.Dial, hc.Key = dir, d.Dial, key
		hc.Centrals = func() []string { return nil }
		hc.CopyResumeWait = time.Second
		hc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, "n3", "n1")
	// While the link is down after the cut, the diff held in part is on disk, sealed.
	sealedSeen := false
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	testutil.WaitFor(t, 30*time.Second, "the diff to be cut", func() bool {
		files, _ := filepath.Glob(filepath.Join(elsewhereDir(dir), partialCopyDir, "copy-*.part"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.HasPrefix(b, []byte(partialCopySealedMagic)) {
				sealedSeen = true
			}
		}
		return d.wasCut() && sealedSeen
	})
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	c.waitHolders("the edge to finish the copy from n1")
	m := copyElsewhereReceived.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no copy resumed from another source:\n%s", logs.String())
	}
	num := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
	size, resumed, kept, sentRecs := num(1), num(2), num(6), num(7)
	records := int64(h.State().Stats().Records)
	if !strings.Contains(logs.String(), "part of a copy is held from another source (n3)") {
		t.Fatalf("n1 asked before the wait for n3 was over:\n%s", logs.String())
	}
	if m[5] != "n3" || kept == 0 || resumed == 0 || resumed >= size {
		t.Fatalf("want records kept from n3 and the diff resumed after its cut: %s", m[0])
	}
	if sentRecs > records*35/100 {
		t.Fatalf("%d of %d records sent again", sentRecs, records)
	}
	// A fresh copy from n1, on the same wire, for comparison.
	fresh := &countedDial{dial: c.net.dial}
	call, err := ask(context.Background(), fresh.Dial, "n1", FeedRequest{Kind: FeedCopyChunks, Shard: "europe"})
	if err != nil {
		t.Fatal(err)
	}
	freshHdr, err := readCopyHeader(call.body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, call.body); err != nil {
		t.Fatal(err)
	}
	call.close()
	wire := d.read.Load() + d.written.Load()
	freshWire := fresh.n.Load() + fresh.w.Load()
	t.Logf("resumed from n1: %d records kept of those held from n3, %d sent; diff body %d bytes (fresh copy body %d); "+
		"on the wire %d bytes in all streams against %d for a fresh copy (%.1f%%)", kept, sentRecs, size, freshHdr.total,
		wire, freshWire, 100*float64(wire)/float64(freshWire))
	// The records here differ in their id and serial only and compress 30-fold, so the summary's
	// sums weigh on the wire as they would not on real records (TestFeedResumeElsewhereBytes).
	if uint64(size)*100 > freshHdr.total*35 {
		t.Fatalf("the diff took %d bytes, a fresh copy %d", size, freshHdr.total)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, partialCopyDir, "*")); len(files) != 0 {
		t.Fatalf("partial files left: %v", files)
	}
	if len(h.Dropped()) != 0 {
		t.Fatalf("an honest source dropped: %v", h.Dropped())
	}
}

func (c *feedCluster) waitFor(what string, ok func() bool) {
	c.t.Helper()
	testutil.WaitFor(c.t, 30*time.Second, what, ok)
}

// A source of a release before FeedCopyResume answers it as a bad request: the holder waits for
// the first source as that release did, then takes a new copy from it.
func TestFeedCopyResumeFromOlderSource(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 3000, 500)
	c.waitCompacted()
	held := copyHeldAt(t, c, "n3", 0.9)
	c.net.setAway("n3", true)
	c.net.server("n1").maxKind = FeedCopyChunks
	dir := t.TempDir()
	held.writeTo(t, dir, nil)
	// Held for less than a release before waits for the first source: the copy held is kept.
	var waiting syncBuffer
	h := c.holder("edge", func(hc *HolderConfig) {
		hc.Dir = dir
		hc.Centrals = func() []string { return nil }
		hc.CopyResumeWait = time.Millisecond
		hc.Logger = slog.New(slog.NewTextHandler(&waiting, nil))
	}, "n3", "n1")
	c.waitFor("the edge to find n1 cannot resume the copy", func() bool {
		return strings.Contains(waiting.String(), "n1 cannot resume it")
	})
	h.Close()
	delete(c.holders, "edge")
	if strings.Contains(waiting.String(), "feed copy begun") {
		t.Fatalf("a new copy begun within the wait for the first source:\n%s", waiting.String())
	}
	// Held for longer than a release before waits for the first source.
	files, _ := filepath.Glob(filepath.Join(dir, partialCopyDir, "copy-*.part"))
	old := time.Now().Add(-copyPrefer - time.Second)
	if len(files) != 1 || os.Chtimes(files[0], old, old) != nil {
		t.Fatalf("partial files %v", files)
	}
	var logs syncBuffer
	h = c.holder("edge", func(hc *HolderConfig) {
		hc.Dir = dir
		hc.Centrals = func() []string { return nil }
		hc.CopyResumeWait = time.Millisecond
		hc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, "n3", "n1")
	c.waitHolders("the edge to take a new copy from the older source")
	m := copyReceived.FindStringSubmatch(logs.String())
	if m == nil || m[2] != "0" || strings.Contains(logs.String(), "held_from=") {
		t.Fatalf("want a new copy from n1, from zero:\n%s", logs.String())
	}
	if len(h.Dropped()) != 0 {
		t.Fatalf("the older source was dropped: %v", h.Dropped())
	}
}

// A source that answers with a diff that lies is refused and dropped, and the copy ends right from
// the next source.
func TestFeedCopyResumeHostileDiffRefused(t *testing.T) {
	const n = 3000
	c := compactedFeedCluster(t)
	c.write(0, n, 500)
	c.waitCompacted()
	held := copyHeldAt(t, c, "n3", 0.9)
	c.changeAfterHeld(n)
	for _, tc := range []struct {
		name, why string
		tamper    func(*parsedDiff)
	}{
		{"forged record", "", func(p *parsedDiff) {
			var r record.Record
			if err := r.UnmarshalBinary(p.rest[0]); err != nil {
				panic(err)
			}
			r.Serial = "FORGED"
			p.rest[0] = r.AppendBinary(nil)
		}},
		{"claims a range matched", "", func(p *parsedDiff) {
			i := p.firstSent()
			p.flags[i], p.ranges[i] = 0, nil
		}},
		{"keys out of order", "out of its range", func(p *parsedDiff) {
			p.rest[0], p.rest[1] = p.rest[1], p.rest[0]
		}},
		{"key outside its range", "out of its range", func(p *parsedDiff) {
			i := p.firstSent()
			p.ranges[i] = append(p.ranges[i], p.rest[0])
			p.rest = p.rest[1:]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			held.writeTo(t, dir, nil)
			name := "evil-" + strings.ReplaceAll(tc.name, " ", "-")
			h := c.holder(name, func(hc *HolderConfig) {
				hc.Dir, hc.Dial = dir, tamperingDial(t, c, name, "n1", tc.tamper)
				hc.Centrals = func() []string { return nil }
				hc.CopyResumeWait = time.Millisecond
			}, "evil", "n1")
			select {
			case got := <-c.refusal:
				if got[0] != "evil" || !strings.Contains(got[1], tc.why) {
					t.Fatalf("refusal %q", got)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no refusal reported")
			}
			c.waitHolders("the holder to take the shard from n1")
			if _, bad := h.Dropped()["evil"]; !bad {
				t.Fatalf("the lying source was not dropped: %v", h.Dropped())
			}
			h.Close()
			delete(c.holders, name)
		})
	}
}

// parsedDiff is a FeedCopyResume body taken apart, for tests to tamper with.
type parsedDiff struct {
	head   []byte // checkpoint, entries and the diff's header
	flags  []byte
	ranges [][][]byte
	rest   [][]byte
}

func (p *parsedDiff) firstSent() int {
	for i, f := range p.flags {
		if f == 1 && len(p.ranges[i]) > 0 {
			return i
		}
	}
	panic("no range sent")
}

func parseDiff(body []byte) (*parsedDiff, error) {
	rd := bytes.NewReader(body)
	br := bufio.NewReader(rd)
	if _, _, err := readFeedEntries(br, 0, false); err != nil {
		return nil, err
	}
	dh, err := readDiffHeader(br)
	if err != nil {
		return nil, err
	}
	p := &parsedDiff{head: body[:len(body)-rd.Len()-br.Buffered()]}
	var buf []byte
	recsUntilEnd := func() ([][]byte, error) {
		var out [][]byte
		for {
			rec, _, err := readRecordOf(br, &buf)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, bytes.Clone(rec))
		}
	}
	for range dh.ranges {
		f, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		p.flags = append(p.flags, f)
		var recs [][]byte
		if f == 1 {
			if recs, err = recsUntilEnd(); err != nil {
				return nil, err
			}
		}
		p.ranges = append(p.ranges, recs)
	}
	if p.rest, err = recsUntilEnd(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parsedDiff) encode() []byte {
	b := bytes.Clone(p.head)
	put := func(recs [][]byte) {
		for _, r := range recs {
			b = binary.AppendUvarint(b, uint64(len(r)))
			b = append(b, r...)
		}
		b = append(b, 0)
	}
	for i, f := range p.flags {
		b = append(b, f)
		if f == 1 {
			put(p.ranges[i])
		}
	}
	put(p.rest)
	return b
}

// tamperingDial dials the feed net, except "evil": a source that answers every entries request
// "behind" and a FeedCopyResume with honest's diff tampered with.
func tamperingDial(t *testing.T, c *feedCluster, asker, honest string, tamper func(*parsedDiff)) FeedDialer {
	return func(ctx context.Context, peer string) (io.ReadWriteCloser, error) {
		if peer != "evil" {
			return c.net.dial(ctx, peer)
		}
		client, srv := net.Pipe()
		go func() {
			defer srv.Close()
			br := bufio.NewReader(srv)
			q, err := readFeedRequest(br)
			if err != nil {
				return
			}
			if q.Kind != FeedCopyResume {
				writeFeedStatus(srv, feedBehind, "take a copy")
				return
			}
			if q.summary, err = readSummary(br, nil); err != nil || q.summary == nil {
				writeFeedStatus(srv, feedBadRequest, "bad request")
				return
			}
			s := c.net.server(honest)
			s.mu.RLock()
			o := s.origins["europe"]
			s.mu.RUnlock()
			cp, entries, snap, err := o.feedCopy(ctx, q)
			if err != nil {
				writeFeedStatus(srv, feedUnavailable, err.Error())
				return
			}
			body := bytes.NewBuffer(appendFeedEntries(nil, &cp, entries))
			err = snap.writeDiff(body, q.summary)
			snap.Release()
			if err != nil {
				t.Error(err)
				return
			}
			p, err := parseDiff(body.Bytes())
			if err != nil {
				t.Error(err)
				return
			}
			tamper(p)
			forged := p.encode()
			srv.Write([]byte{feedVersion, feedOK})
			zw, _ := zstd.NewWriter(srv, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(feedWindow))
			zw.Write(copyHeader{session: 7, total: uint64(len(forged))}.appendWire(nil))
			cw := &chunkWriter{w: zw, buf: make([]byte, 0, copyChunk)}
			cw.Write(forged)
			cw.flush()
			zw.Close()
		}()
		return client, nil
	}
}

// A summary past its bounds is answered as a bad request, and reads nothing past them.
func TestFeedCopyResumeSummaryBounds(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 200, 100)
	head, _ := (&FeedRequest{Kind: FeedCopyResume, Shard: "europe"}).MarshalBinary()
	head = head[:len(head)-1] // the empty summary
	many := make([]heldRange, maxResumeRanges+1)
	for i := range many {
		many[i].last = fmt.Sprintf("k%07d", i)
	}
	for name, req := range map[string][]byte{
		"oversized":           binary.AppendUvarint(bytes.Clone(head), maxResumeSummary+1),
		"too many ranges":     appendSummary(bytes.Clone(head), many),
		"no summary":          append(bytes.Clone(head), 0),
		"keys not increasing": appendSummary(bytes.Clone(head), []heldRange{{last: "b"}, {last: "a"}}),
	} {
		s, err := c.net.dial(context.Background(), "n1")
		if err != nil {
			t.Fatal(err)
		}
		go s.Write(req)
		var status [2]byte
		if _, err := io.ReadFull(s, status[:]); err != nil || status[1] != feedBadRequest {
			t.Errorf("%s: status %v %v, want bad request", name, status, err)
		}
		s.Close()
	}
}

// wasCut reports whether the dial has cut its copy stream.
func (d *cutDial) wasCut() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cut
}

// deadlineConn records the read deadlines set on it.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	last time.Time
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.last = t
	c.mu.Unlock()
	return nil
}

// A summary is given time to arrive at the lowest cap a node accepts: the server extends the
// stream's read deadline by its length.
func TestFeedCopyResumeSummaryDeadline(t *testing.T) {
	s := NewFeedServer(nil)
	rs := make([]heldRange, 20000)
	for i := range rs {
		rs[i].last = fmt.Sprintf("FR-%07d", i*16)
	}
	req, err := (&FeedRequest{Kind: FeedCopyResume, Shard: "europe", summary: rs}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	client, srv := net.Pipe()
	defer client.Close()
	dc := &deadlineConn{Conn: srv}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(context.Background(), dc, "edge"); srv.Close() }()
	go client.Write(req)
	io.Copy(io.Discard, client) // shard not served here: the summary was read first
	<-done
	dc.mu.Lock()
	defer dc.mu.Unlock()
	n := len(appendSummary(nil, rs))
	want := time.Now().Add(time.Duration(n) * time.Second / summaryRate)
	if dc.last.Before(want) {
		t.Fatalf("a %d-byte summary given until %v, want at least %v", n, dc.last, want)
	}
}
