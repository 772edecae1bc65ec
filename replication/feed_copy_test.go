package replication

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/zstd"

	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/testutil"
)

// compactedFeedCluster is a feed cluster whose raft members compact their logs at once, so a new
// holder takes a copy.
func compactedFeedCluster(t *testing.T) *feedCluster {
	t.Helper()
	c := &feedCluster{cluster: newCluster(t, 3, 1, func(rc *raft.Config) {
		clusterTune(rc)
		rc.TrailingLogs, rc.SnapshotThreshold, rc.SnapshotInterval = 2, 4, 50*time.Millisecond
	}), net: newFeedNet(), holders: map[string]*Holder{}, refusal: make(chan [2]string, 16)}
	for _, m := range c.members {
		if m.voter {
			c.net.server(m.id).ServeGroup(m.g, c.net.central(m.id), nil)
		} else {
			c.net.server(m.id).ServeGroup(m.g, nil, FetchCheckpoint(c.net.dial, c.centrals, c.net.verify, 2*time.Second))
		}
	}
	return c
}

// waitCompacted waits until the non-voter n3 has compacted its log, so a new holder fed from it
// must take a copy.
func (c *feedCluster) waitCompacted() {
	c.t.Helper()
	testutil.WaitFor(c.t, 20*time.Second, "n3's log to be compacted", func() bool {
		first, _ := c.members[3].g.logs.FirstIndex()
		return first > 2
	})
}

// cutDial dials through the feed net and cuts the first copy stream once it has read cutAt bytes,
// keeping the link down for hold: as the thin-link drill's cut at 90% does.
type cutDial struct {
	dial  FeedDialer
	cutAt int64
	hold  time.Duration
	mu    sync.Mutex
	cut   bool
	until time.Time
	// read and written count the bytes of every stream dialed.
	read, written atomic.Int64
	// exact cuts at cutAt even inside one large read.
	exact bool
}

func (d *cutDial) Dial(ctx context.Context, peer string) (io.ReadWriteCloser, error) {
	d.mu.Lock()
	down := time.Now().Before(d.until)
	d.mu.Unlock()
	if down {
		return nil, io.ErrClosedPipe
	}
	s, err := d.dial(ctx, peer)
	if err != nil {
		return nil, err
	}
	return &cuttingStream{ReadWriteCloser: s, d: d}, nil
}

type cuttingStream struct {
	io.ReadWriteCloser
	d    *cutDial
	read atomic.Int64
	copy atomic.Bool
}

func (s *cuttingStream) Write(p []byte) (int, error) {
	if len(p) > 1 && (p[1] == FeedCopyChunks || p[1] == FeedCopyResume) {
		s.copy.Store(true)
	}
	n, err := s.ReadWriteCloser.Write(p)
	s.d.written.Add(int64(n))
	return n, err
}

func (s *cuttingStream) Read(p []byte) (int, error) {
	if left := s.d.cutAt - s.read.Load(); s.d.exact && s.copy.Load() && left > 0 && int64(len(p)) > left {
		p = p[:left] // the cut falls where it is asked, not past a large read
	}
	n, err := s.ReadWriteCloser.Read(p)
	s.d.read.Add(int64(n))
	if s.copy.Load() && s.read.Add(int64(n)) >= s.d.cutAt {
		s.d.mu.Lock()
		first := !s.d.cut
		if first {
			s.d.cut, s.d.until = true, time.Now().Add(s.d.hold)
		}
		s.d.mu.Unlock()
		if first {
			s.ReadWriteCloser.Close()
			return n, io.ErrUnexpectedEOF
		}
	}
	return n, err
}

// syncBuffer is a log sink tests read while the holder writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var copyReceived = regexp.MustCompile(`msg="feed copy received".* size=(\d+) resumed=(\d+) sent=(\d+)`)

// A copy in chunks cut part way resumes from what the holder holds on disk (sealed, as on an
// encrypted data dir): the stream after the cut carries only the rest.
func TestFeedCopyResumesAfterCut(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 6000, 500)
	c.waitCompacted()
	key, err := seal.NewKey(seal.Generate())
	if err != nil {
		t.Fatal(err)
	}
	d := &cutDial{dial: c.net.dial, cutAt: 6000, hold: 500 * time.Millisecond}
	var logs syncBuffer
	h := c.holder("edge", func(hc *HolderConfig) {
		hc.Dial, hc.Key = d.Dial, key
		hc.Centrals = func() []string { return nil } // one source: the copy must resume from it
		hc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, "n3")
	c.waitHolders("the holder to take a copy across a cut")
	m := copyReceived.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no copy received logged:\n%s", logs.String())
	}
	size, _ := strconv.ParseInt(m[1], 10, 64)
	resumed, _ := strconv.ParseInt(m[2], 10, 64)
	sent, _ := strconv.ParseInt(m[3], 10, 64)
	t.Logf("copy of %d bytes, %d held before the last stream, which carried %d", size, resumed, sent)
	if !d.cut {
		t.Fatal("the copy was never cut")
	}
	if resumed == 0 || resumed >= size {
		t.Fatalf("resumed at %d of %d", resumed, size)
	}
	if len(h.Dropped()) != 0 {
		t.Fatalf("an honest source dropped: %v", h.Dropped())
	}
	if files, _ := filepath.Glob(filepath.Join(h.cfg.Dir, partialCopyDir, "*")); len(files) != 0 {
		t.Fatalf("partial files left: %v", files)
	}
}

// A holder restarted with part of a copy on disk resumes it; bytes that differ from the source's
// (a partial file tampered with) are not resumed: the source says so and the copy starts again.
func TestFeedCopyPartialAcrossRestart(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 6000, 500)
	c.waitCompacted()
	dir := t.TempDir()
	// Half a copy, as a holder stopped part way would leave it.
	s := c.net.server("n3")
	call := askNewCopy(t, c, "n3")
	hdr, err := readCopyHeader(call.body)
	if err != nil {
		t.Fatal(err)
	}
	p, err := createCopyPartial(dir, "europe", nil, "n3", hdr.session, hdr.total)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, copyChunk)
	for p.held < hdr.total/2 {
		data, err := readCopyChunk(call.body, copyChunk, buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.append(data); err != nil {
			t.Fatal(err)
		}
	}
	call.close()
	p.close()
	half := p.held
	// The server ends the stream it was writing when the same copy is asked for again.
	testutil.WaitFor(t, 10*time.Second, "the session to be free", func() bool {
		cs := s.copies.get(hdr.session)
		if cs == nil || !cs.mu.TryLock() {
			return false
		}
		cs.mu.Unlock()
		return true
	})
	re := openCopyPartial(dir, "europe", nil)
	if re == nil || re.held != half || re.session != hdr.session {
		t.Fatalf("reopened partial: %+v, want %d bytes held", re, half)
	}
	re.close()
	var logs syncBuffer
	c.holder("edge", func(hc *HolderConfig) {
		hc.Dir, hc.Centrals = dir, func() []string { return nil }
		hc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, "n3")
	c.waitHolders("the restarted holder to finish the copy")
	m := copyReceived.FindStringSubmatch(logs.String())
	if m == nil || m[2] != strconv.FormatUint(half, 10) {
		t.Fatalf("want the copy resumed at %d:\n%s", half, logs.String())
	}
}

// Bytes on disk that are not the source's copy (here: resumed under another member's name) are not
// resumed: the source answers that it has no such copy.
func TestFeedCopyResumeRefusedForOtherBytes(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 3000, 500)
	c.waitCompacted()
	call := askNewCopy(t, c, "n3")
	hdr, err := readCopyHeader(call.body)
	if err != nil {
		t.Fatal(err)
	}
	call.close()
	for _, r := range []CopyResume{
		{Session: hdr.session, Offset: 10, Prefix: [32]byte{1}}, // bytes that differ
		{Session: hdr.session + 1},                              // a session not held
		{Session: hdr.session, Offset: hdr.total + 1},           // past the end
	} {
		_, err := ask(context.Background(), c.net.dial, "n3", FeedRequest{Kind: FeedCopyChunks, Shard: "europe", Resume: r})
		var fe *FeedError
		if !asFeedError(err, &fe) || fe.Status != feedNoSession {
			t.Errorf("resume %+v: %v, want no session", r, err)
		}
	}
}

// askNewCopy begins a copy in chunks at peer, asking again while it has no checkpoint yet (a
// non-voter ahead of the voters' hashes).
func askNewCopy(t *testing.T, c *feedCluster, peer string) *feedCall {
	t.Helper()
	var call *feedCall
	testutil.WaitFor(t, 20*time.Second, "a copy from "+peer, func() bool {
		var err error
		call, err = ask(context.Background(), c.net.dial, peer, FeedRequest{Kind: FeedCopyChunks, Shard: "europe"})
		if fe := (*FeedError)(nil); asFeedError(err, &fe) && fe.Status == feedUnavailable {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	return call
}

func asFeedError(err error, fe **FeedError) bool {
	e, ok := err.(*FeedError)
	if ok {
		*fe = e
	}
	return ok
}

// spooledHostileCopy serves hostileCopy's forged state in chunks.
type spooledHostileCopy struct{ hostileCopy }

func (o spooledHostileCopy) copySpool() (string, *seal.Key) {
	return o.hostileCopy.feedOrigin.(*Holder).copySpool()
}

// olderOrigin stands for a source of a release before copies in chunks: it answers kind 4 as a
// request it does not know.
type olderOrigin struct{ feedOrigin }

// A forged state sent in chunks under a genuine checkpoint is refused once whole.
func TestFeedChunkedCopyForgedRefused(t *testing.T) {
	forgedCopyRefused(t, func(c hostileCopy) feedOrigin { return spooledHostileCopy{c} })
}

// A source of a release before copies in chunks answers them as a bad request: the holder takes a
// whole copy from it, as before.
func TestFeedCopyFromOlderSource(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 400, 20)
	c.waitCompacted()
	n3 := c.net.server("n3")
	n3.mu.RLock()
	o := n3.origins["europe"]
	n3.mu.RUnlock()
	c.net.server("old").set("europe", olderOrigin{o})
	var logs syncBuffer
	edge := c.holder("edge", func(hc *HolderConfig) {
		hc.Centrals = func() []string { return nil }
		hc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, "old")
	c.waitHolders("the edge to take a whole copy from the older source")
	if !strings.Contains(logs.String(), "copy verified and taken") || strings.Contains(logs.String(), "feed copy received") {
		t.Fatalf("want a whole copy, not one in chunks:\n%s", logs.String())
	}
	if len(edge.Dropped()) != 0 {
		t.Fatalf("the older source was dropped: %v", edge.Dropped())
	}
}

// A chunk whose bytes are not those its checksum names is refused and its source dropped, the
// partial file with it.
func TestFeedCopyBadChunkRefused(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 400, 20)
	c.waitCompacted()
	evil := func(ctx context.Context, peer string) (io.ReadWriteCloser, error) {
		if peer != "evil" {
			return c.net.dial(ctx, peer)
		}
		client, srv := net.Pipe()
		go func() {
			defer srv.Close()
			q, err := readFeedRequest(bufio.NewReader(srv))
			if err != nil {
				return
			}
			if q.Kind != FeedCopyChunks {
				writeFeedStatus(srv, feedBehind, "take a copy")
				return
			}
			srv.Write([]byte{feedVersion, feedOK})
			zw, _ := zstd.NewWriter(srv)
			zw.Write(copyHeader{session: 7, total: 100}.appendWire(nil))
			data := bytes.Repeat([]byte{1}, 100)
			zw.Write(binary.AppendUvarint(nil, 100))
			zw.Write(data)
			zw.Write(make([]byte, 32)) // not the data's SHA-256
			zw.Close()
		}()
		return client, nil
	}
	h := c.holder("edge", func(hc *HolderConfig) { hc.Dial = evil }, "evil")
	select {
	case got := <-c.refusal:
		if got[0] != "evil" || !strings.Contains(got[1], "checksum") {
			t.Fatalf("refusal %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no refusal reported")
	}
	c.waitHolders("the edge to converge from a central node")
	if files, _ := filepath.Glob(filepath.Join(h.cfg.Dir, partialCopyDir, "*")); len(files) != 0 {
		t.Fatalf("partial files left: %v", files)
	}
}

// A session's spool goes with the session; spools no session holds (a restart) are swept once old.
func TestFeedCopySpoolRemoved(t *testing.T) {
	c := compactedFeedCluster(t)
	c.write(0, 400, 20)
	c.waitCompacted()
	call := askNewCopy(t, c, "n3")
	hdr, err := readCopyHeader(call.body)
	if err != nil {
		t.Fatal(err)
	}
	call.close()
	s := c.net.server("n3")
	cs := s.copies.get(hdr.session)
	if cs == nil {
		t.Fatal("no session held")
	}
	base := filepath.Dir(cs.dir)
	stale := filepath.Join(base, "00000000000000aa")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * copySessionIdle)
	os.Chtimes(stale, old, old)
	s.copies.sweep(base)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("an old spool no session holds was kept: %v", err)
	}
	if _, err := os.Stat(cs.dir); err != nil {
		t.Fatalf("a live session's spool was swept: %v", err)
	}
	s.copies.end(cs)
	testutil.WaitFor(t, 10*time.Second, "the ended session's spool to go", func() bool {
		_, err := os.Stat(cs.dir)
		return os.IsNotExist(err)
	})
}
