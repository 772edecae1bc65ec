package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/zstd"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

// raftWire carries raft between in-process members over raft's NetworkTransport (msgpack, as
// between nodes) on in-memory pipes, and counts what each member writes as the libp2p raft
// protocol frames it: every write cut in frames of at most 256 KiB, each zstd-compressed on its
// own when that makes it smaller, plus a frame header (transport/raft_zstd.go). Noise's 16 bytes
// per 64 KiB are left out.
type raftWire struct {
	mu     sync.Mutex // guards layers
	layers map[raft.ServerAddress]*memLayer
	enc    *zstd.Encoder
	sent   map[raft.ServerAddress]*atomic.Int64
}

func newRaftWire() *raftWire {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(256<<10))
	if err != nil {
		panic(err)
	}
	return &raftWire{layers: map[raft.ServerAddress]*memLayer{}, enc: enc, sent: map[raft.ServerAddress]*atomic.Int64{}}
}

func (w *raftWire) transport(id string) raft.Transport {
	l := &memLayer{wire: w, addr: raft.ServerAddress(id), accept: make(chan net.Conn, 16), closed: make(chan struct{})}
	w.mu.Lock()
	w.layers[l.addr] = l
	w.sent[l.addr] = new(atomic.Int64)
	w.mu.Unlock()
	return raft.NewNetworkTransport(l, 3, 10*time.Second, io.Discard)
}

// framed is what b costs on the wire in zstd frames.
func (w *raftWire) framed(b []byte) int64 {
	var n int64
	var buf []byte
	for len(b) > 0 {
		chunk := b[:min(len(b), 256<<10)]
		b = b[len(chunk):]
		buf = w.enc.EncodeAll(chunk, buf[:0])
		n += int64(min(len(buf), len(chunk))) + 7
	}
	return n
}

type memLayer struct {
	wire   *raftWire
	addr   raft.ServerAddress
	accept chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *memLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.closed:
		return nil, errors.New("closed")
	}
}

func (l *memLayer) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *memLayer) Addr() net.Addr { return memAddr(l.addr) }

func (l *memLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	l.wire.mu.Lock()
	target := l.wire.layers[address]
	l.wire.mu.Unlock()
	if target == nil {
		return nil, fmt.Errorf("no member at %s", address)
	}
	a, b := net.Pipe()
	select {
	case target.accept <- wireConn{b, l.wire, l.wire.sent[address]}:
	case <-target.closed:
		return nil, errors.New("closed")
	case <-time.After(timeout):
		return nil, errors.New("dial timeout")
	}
	return wireConn{a, l.wire, l.wire.sent[l.addr]}, nil
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// wireConn counts the framed size of what its side writes.
type wireConn struct {
	net.Conn
	wire *raftWire
	sent *atomic.Int64
}

func (c wireConn) Write(b []byte) (int, error) {
	c.sent.Add(c.wire.framed(b))
	return c.Conn.Write(b)
}

// scaleCopy is one holder's copy and when it had every record.
type scaleCopy struct {
	name  string
	state *State
	done  time.Duration
}

// scaleRun is one layout of the shard's holders: the raft group (3 voters and some non-voters)
// and fed holders below.
type scaleRun struct {
	t       *testing.T
	dir     string // every member's files, removed at close so the next layout has the disk
	wire    *raftWire
	feeds   *feedNet
	groups  []*Group
	holders []*Holder
	copies  []*scaleCopy
}

func (r *scaleRun) close() {
	for _, h := range r.holders {
		h.Close()
	}
	for _, g := range r.groups {
		g.Close()
	}
	if err := os.RemoveAll(r.dir); err != nil {
		r.t.Error(err)
	}
}

// memberDir is a new directory for one member's files.
func (r *scaleRun) memberDir(name string) string {
	d := filepath.Join(r.dir, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		r.t.Fatal(err)
	}
	return d
}

// startScaleRun starts 3 voters and nonvoters raft non-voters; the voters and non-voters serve the
// feed. The voters write as in production; every other holder (raft non-voter or fed) commits its
// log and state without fsync, or 300 copies on one disk measure its fsync queue: they still
// decode, apply, hash and verify every entry in real bbolt files.
func startScaleRun(t *testing.T, nonvoters int) *scaleRun {
	dir, err := os.MkdirTemp("", "feedscale")
	if err != nil {
		t.Fatal(err)
	}
	r := &scaleRun{t: t, dir: dir, wire: newRaftWire(), feeds: newFeedNet()}
	var voters []raft.Server
	for i := range 3 {
		id := fmt.Sprintf("n%d", i)
		voters = append(voters, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
	}
	tune := func(rc *raft.Config) {
		// Generous: hundreds of members on a shared machine must not lose their leader to load.
		rc.HeartbeatTimeout = 5 * time.Second
		rc.ElectionTimeout = 5 * time.Second
		rc.LeaderLeaseTimeout = 2500 * time.Millisecond
	}
	for i := range 3 + nonvoters {
		id := fmt.Sprintf("n%d", i)
		g, err := OpenGroup(GroupConfig{Shard: "europe", Dir: r.memberDir(id), LocalID: id, Transport: r.wire.transport(id),
			Bootstrap: i < 3, Voters: voters, Tune: tune, noSync: i >= 3})
		if err != nil {
			t.Fatal(err)
		}
		r.groups = append(r.groups, g)
		if i < 3 {
			r.feeds.server(id).ServeGroup(g, r.feeds.central(id), nil)
		} else {
			r.feeds.server(id).ServeGroup(g, nil, FetchCheckpoint(r.feeds.dial, r.centrals, r.feeds.verify, 5*time.Second))
			r.copies = append(r.copies, &scaleCopy{name: id, state: g.State()})
		}
	}
	for _, g := range r.groups[3:] {
		// Under a loaded machine leadership may move while the members are added: ask the new one.
		var err error
		for range 20 {
			if err = r.leader().AddNonvoter(g.localID, raft.ServerAddress(g.localID)); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *scaleRun) centrals() []string { return []string{"n0", "n1", "n2"} }

func (r *scaleRun) leader() *Group {
	var l *Group
	testutil.WaitFor(r.t, 2*time.Minute, "a leader", func() bool {
		for _, g := range r.groups[:3] {
			if g.IsLeader() {
				l = g
				return true
			}
		}
		return false
	})
	return l
}

// feed adds a fed holder taking the shard from sources.
func (r *scaleRun) feed(name string, sources ...string) {
	h, err := OpenHolder(HolderConfig{Shard: "europe", Dir: r.memberDir(name), Sources: sources, Centrals: r.centrals,
		Dial: r.feeds.dial, Verify: r.feeds.verify, Wait: 2 * time.Second, Timeout: 10 * time.Second, Away: time.Second, noSync: true})
	if err != nil {
		r.t.Fatal(err)
	}
	r.feeds.server(name).ServeHolder(h)
	r.holders = append(r.holders, h)
	r.copies = append(r.copies, &scaleCopy{name: name, state: h.State()})
}

// egress is what a member has written: raft frames and feed answers.
func (r *scaleRun) egress(id string) int64 {
	n := r.wire.sent[raft.ServerAddress(id)].Load()
	r.feeds.mu.Lock()
	defer r.feeds.mu.Unlock()
	if s := r.feeds.sent[id]; s != nil {
		n += s.Load()
	}
	return n
}

// scaleResult is what one layout measured. leaderBytes is the egress of the voter that sent the
// most (the leader, unless leadership moved during the import); voterBytes, of all three.
type scaleResult struct {
	p50, p99, last          time.Duration
	leaderBytes, voterBytes int64
	leaderChanged           bool
}

// scaleImport is the import both layouts write: entries of 1,000 records, made once.
func scaleImport(total int) []*Command {
	var cmds []*Command
	for i := 0; i < total; i += 1000 {
		cmd := &Command{Op: OpUpsert, Principal: Principal{Agency: "FR-NCB", Country: "FR"}}
		for j := i; j < min(i+1000, total); j++ {
			cmd.Records = append(cmd.Records, record.Record{ID: fmt.Sprintf("FR-%07d", j), Serial: fmt.Sprintf("SN%09d", j*7919%1000000007),
				Make: "Glock", Model: "17", Calibre: "9x19", Type: "pistol", RecordingCountry: "FR", Status: "stolen"})
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// importAll writes cmds (total records) through the leader and waits until every copy holds them
// all; it measures from the first write.
func (r *scaleRun) importAll(cmds []*Command, total int) scaleResult {
	l := r.leader()
	first := l
	var before [3]int64
	for i := range before {
		before[i] = r.egress(fmt.Sprintf("n%d", i))
	}
	start := time.Now()
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		left := len(r.copies)
		for left > 0 {
			for _, c := range r.copies {
				if c.done == 0 && c.state.Stats().Records == uint64(total) {
					c.done = time.Since(start)
					left--
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	for _, cmd := range cmds {
		var err error
		for range 20 {
			if _, err = l.Apply(context.Background(), cmd); err == nil {
				break
			}
			l = r.leader()
		}
		if err != nil {
			r.t.Fatal(err)
		}
	}
	want := l.State().Stats()
	testutil.WaitFor(r.t, 30*time.Minute, "every copy to hold every record", func() bool {
		for _, c := range r.copies {
			if c.done == 0 {
				return false
			}
		}
		return true
	})
	close(stop)
	watch.Wait()
	for _, c := range r.copies {
		if st := c.state.Stats(); st.Digest != want.Digest {
			r.t.Fatalf("%s: digest %s, the leader's %s", c.name, st.Digest, want.Digest)
		}
	}
	times := make([]time.Duration, 0, len(r.copies))
	for _, c := range r.copies {
		times = append(times, c.done)
	}
	slices.Sort(times)
	q := func(p float64) time.Duration { return times[int(p*float64(len(times)-1))] }
	res := scaleResult{p50: q(0.5), p99: q(0.99), last: times[len(times)-1], leaderChanged: r.leader() != first}
	for i := range before {
		d := r.egress(fmt.Sprintf("n%d", i)) - before[i]
		res.voterBytes += d
		res.leaderBytes = max(res.leaderBytes, d)
	}
	return res
}

// TestScaleFeedTiers is the scale run: holders of one shard in one process, on a raft
// transport that encodes, compresses and counts every byte, importing records through the leader.
// Flat, every holder is a raft non-voter; tiered, the leader's non-voters are the cube root of the
// holders (an NCB each), which feed the next tier (its square), which feeds the rest. Reports the
// time for the import to reach every holder (p50, p99, last) and the leader's egress per record.
// Opt-in: FEDARMS_FEED_SCALE_HOLDERS=300 FEDARMS_FEED_SCALE_RECORDS=100000.
func TestScaleFeedTiers(t *testing.T) {
	holders, _ := strconv.Atoi(os.Getenv("FEDARMS_FEED_SCALE_HOLDERS"))
	total, _ := strconv.Atoi(os.Getenv("FEDARMS_FEED_SCALE_RECORDS"))
	if holders == 0 || total == 0 {
		t.Skip("opt-in: set FEDARMS_FEED_SCALE_HOLDERS and FEDARMS_FEED_SCALE_RECORDS")
	}
	cmds := scaleImport(total)
	flat := startScaleRun(t, holders)
	fr := flat.importAll(cmds, total)
	flat.close()
	report := func(layout string, r scaleResult) {
		t.Logf("%s: every holder after p50 %v, p99 %v, last %v; leader sent %d bytes, %.1f per record (the three voters %.1f; leadership moved: %v)",
			layout, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.last.Round(time.Millisecond), r.leaderBytes,
			float64(r.leaderBytes)/float64(total), float64(r.voterBytes)/float64(total), r.leaderChanged)
	}
	report(fmt.Sprintf("flat, %d non-voters", holders), fr)

	t1 := max(2, int(math.Cbrt(float64(holders))))
	t2 := min(t1*t1, holders-t1)
	tiered := startScaleRun(t, t1)
	defer tiered.close()
	name := func(tier, i int) string { return fmt.Sprintf("t%d-%d", tier, i) }
	for i := range t2 {
		tiered.feed(name(2, i), fmt.Sprintf("n%d", 3+i%t1), fmt.Sprintf("n%d", 3+(i+1)%t1))
	}
	for i := range holders - t1 - t2 {
		tiered.feed(name(3, i), name(2, i%t2), name(2, (i+1)%t2))
	}
	tr := tiered.importAll(cmds, total)
	report(fmt.Sprintf("tiered, %d non-voters feeding %d feeding %d", t1, t2, holders-t1-t2), tr)
	// When leadership moved during a layout's import, two voters led in turn: the three voters'
	// egress is then the comparable figure.
	t.Logf("leader egress tiered/flat: 1/%.1f (the three voters': 1/%.1f); last holder tiered/flat: %.2fx",
		float64(fr.leaderBytes)/float64(tr.leaderBytes), float64(fr.voterBytes)/float64(tr.voterBytes), tr.last.Seconds()/fr.last.Seconds())
	for _, h := range tiered.holders {
		if len(h.Dropped()) != 0 {
			t.Errorf("honest sources dropped: %v", h.Dropped())
		}
	}
}
