//go:build localfed && thinlink

package drills

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// thinLink is the namespace and veth pair scripts/thinlink.sh sets up.
type thinLink struct {
	ns, net, dev, script string
}

// thinLinkUp uses the link scripts/thinlink.sh set up (THINLINK_NS), or sets one up for the test.
func thinLinkUp(t *testing.T) *thinLink {
	t.Helper()
	script, err := filepath.Abs("../thinlink.sh")
	if err != nil {
		t.Fatal(err)
	}
	l := &thinLink{ns: os.Getenv("THINLINK_NS"), net: os.Getenv("THINLINK_NET"), dev: os.Getenv("THINLINK_IF"), script: script}
	if l.ns != "" && l.net != "" && l.dev != "" {
		return l
	}
	l.ns, l.net, l.dev = "fedarms-thin", "10.231.0", "fa-thin0"
	out, err := exec.Command(script, "up").CombinedOutput()
	if err != nil {
		t.Fatalf("thinlink.sh up: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "skipped") {
		t.Skipf("thinlink.sh: %s", out)
	}
	t.Cleanup(func() { exec.Command(script, "down").Run() })
	return l
}

func (l *thinLink) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

func (l *thinLink) cut(t *testing.T)  { l.ip(t, "link", "set", l.dev, "down") }
func (l *thinLink) heal(t *testing.T) { l.ip(t, "link", "set", l.dev, "up") }

var tcSent = regexp.MustCompile(`Sent (\d+) bytes`)

// sentBytes is what the tbf toward the edge has sent: every byte the link carried to it.
func (l *thinLink) sentBytes(t *testing.T) int64 {
	t.Helper()
	out, err := exec.Command("tc", "-s", "qdisc", "show", "dev", l.dev).Output()
	if err != nil {
		t.Fatalf("tc -s qdisc: %v", err)
	}
	m := tcSent.FindSubmatch(out)
	if m == nil {
		t.Fatalf("tc -s qdisc: no byte count in %s", out)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// importAndCompact imports lines at ncb, waits until every europe holder but edge-cdg has total
// records, then until every central member has taken a europe snapshot since (its log compacted
// behind the edge).
func importAndCompact(t *testing.T, f *fed, ncb *nodeClient, tok string, lines [][]byte, total int) {
	t.Helper()
	importLines(t, ncb, tok, lines, 10000)
	done := time.Now()
	testutil.WaitFor(t, 5*time.Minute, fmt.Sprintf("%d records at every europe holder but edge-cdg", total), func() bool {
		for _, h := range f.holders("europe") {
			if h.name != "edge-cdg" && records(h, "europe") != uint64(total) {
				return false
			}
		}
		return true
	})
	// raft checks for a snapshot every 60-120 s (node/federation.go).
	testutil.WaitFor(t, 5*time.Minute, "a europe snapshot at every central member", func() bool {
		for _, c := range f.centrals() {
			if !snapshotSince(filepath.Dir(c.log), done) {
				return false
			}
		}
		return true
	})
}

// snapshotSince reports whether a europe raft snapshot under dataDir was written after t.
func snapshotSince(dataDir string, t time.Time) bool {
	found := false
	filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found || d.Name() != "meta.json" || !strings.Contains(path, "europe") {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(t) {
			found = true
		}
		return nil
	})
	return found
}

// startAndCatchUp starts edge-cdg and returns the time until it holds total europe records.
func startAndCatchUp(t *testing.T, f *fed, edge *nodeClient, total int) time.Duration {
	t.Helper()
	t0 := time.Now()
	f.localfed("start", "edge-cdg")
	testutil.WaitFor(t, 10*time.Minute, fmt.Sprintf("%d europe records at edge-cdg", total), func() bool {
		return records(edge, "europe") == uint64(total)
	})
	return time.Since(t0)
}

// replicationReceived is the edge's fedarms_replication_received_bytes_total for shard, every peer.
func replicationReceived(t *testing.T, n *nodeClient, shard string) int64 {
	t.Helper()
	code, b, err := n.do("GET", "/metrics", n.admin, nil, "")
	if err != nil || code != 200 {
		t.Fatalf("metrics of %s: %d %v", n.name, code, err)
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "fedarms_replication_received_bytes_total{") && strings.Contains(line, `shard="`+shard+`"`) {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return int64(sum)
}

// snapshotLine is one transfer of a copy of europe's state to a node: a raft snapshot ("raft
// snapshot received") or a feed copy in chunks ("feed copy received", or "feed copy cut" for a
// stream cut part way, whose held bytes resume).
type snapshotLine struct {
	size, resumed, sent, held int64
	err                       string
	feed                      bool
	// A copy resumed from another source than the one it began with: that source (held_from), the
	// bytes its request carried (the summary of the records held), the records kept and sent.
	heldFrom          string
	asked, kept, recs int64
}

var snapField = regexp.MustCompile(`"?(size|resumed|sent|held|err|asked|held_from|kept_records|sent_records)"?[=:]"?([^" ,}]*)`)

// snapshotsReceived reads the europe state transfers the node logged after offset.
func snapshotsReceived(t *testing.T, n *nodeClient, offset int64) []snapshotLine {
	t.Helper()
	b, err := os.ReadFile(n.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []snapshotLine
	for _, line := range strings.Split(string(b[min(offset, int64(len(b))):]), "\n") {
		raftSnap := strings.Contains(line, "raft snapshot received") && strings.Contains(line, "shard/europe")
		feedCopy := (strings.Contains(line, "feed copy received") || strings.Contains(line, "feed copy cut")) &&
			(strings.Contains(line, "shard=europe") || strings.Contains(line, `"shard":"europe"`))
		if !raftSnap && !feedCopy {
			continue
		}
		s := snapshotLine{feed: feedCopy}
		if strings.Contains(line, "feed copy cut") {
			s.err = "cut"
		}
		for _, m := range snapField.FindAllStringSubmatch(line, -1) {
			v, _ := strconv.ParseInt(m[2], 10, 64)
			switch m[1] {
			case "size":
				s.size = v
			case "resumed":
				s.resumed = v
			case "sent":
				s.sent = v
			case "held":
				s.held = v
			case "held_from":
				s.heldFrom = m[2]
			case "asked":
				s.asked = v
			case "kept_records":
				s.kept = v
			case "sent_records":
				s.recs = v
			case "err":
				if m[2] != "<nil>" && m[2] != "null" && m[2] != "" {
					s.err = m[2]
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// peakRSS is the node's peak resident memory (VmHWM) in bytes, 0 when unknown.
func peakRSS(t *testing.T, n *nodeClient) int64 {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(filepath.Dir(n.log), "agent.pid"))
	if err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// logSize is the length of a node's log now, to read what it logs next.
func logSize(n *nodeClient) int64 {
	info, err := os.Stat(n.log)
	if err != nil {
		return 0
	}
	return info.Size()
}

// partialShare is the share of the copy the edge's partial file holds (0 without one): a raft
// snapshot's (raft-partial) or a feed copy's (shards/<shard>/feed-partial/copy-<session>-<size>.part).
func partialShare(n *nodeClient) float64 {
	dir := filepath.Dir(n.log)
	files, _ := filepath.Glob(filepath.Join(dir, "raft-partial", "*.part"))
	best := 0.0
	feeds, _ := filepath.Glob(filepath.Join(dir, "shards", "europe", "feed-partial", "copy-*.part"))
	for _, path := range feeds {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(path), ".part"), "-")
		size, err := strconv.ParseFloat(parts[len(parts)-1], 64)
		info, err2 := os.Stat(path)
		if err != nil || err2 != nil || size <= 0 {
			continue
		}
		// Each 64 KiB chunk carries its length and checksum (and 29 bytes of sealing): near enough.
		best = max(best, float64(info.Size())/size)
	}
	for _, path := range files {
		parts := strings.Split(filepath.Base(path), "-")
		if len(parts) < 5 {
			continue
		}
		size, err := strconv.ParseFloat(parts[3], 64)
		info, err2 := os.Stat(path)
		if err != nil || err2 != nil || size <= 0 {
			continue
		}
		// 32 bytes of checksum per 256 KiB chunk, and a header: close enough to the data's share.
		best = max(best, float64(info.Size())/size)
	}
	return best
}

// hitRun makes a hit at the edge every 2 s until stopped, each waited for on its own.
type hitRun struct {
	stopCh chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	lags   []time.Duration
	failed []string // hits made whose receipts did not come
	unmade []string // searches that made no hit
}

func startHits(hm *hitMaker, targets []hitTarget) *hitRun {
	r := &hitRun{stopCh: make(chan struct{})}
	r.wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-r.stopCh:
				return
			case <-time.After(2 * time.Second):
			}
			r.wg.Go(func() {
				t0 := time.Now()
				id, err := hm.hit(targets[i%len(targets)])
				if err != nil {
					// No hit was made (the edge not up yet, as it starts): nothing to deliver.
					r.mu.Lock()
					r.unmade = append(r.unmade, err.Error())
					r.mu.Unlock()
					return
				}
				lag, err := pollHit(hm.edge, id, t0, 90*time.Second)
				r.mu.Lock()
				defer r.mu.Unlock()
				if err != nil {
					r.failed = append(r.failed, err.Error())
					return
				}
				r.lags = append(r.lags, lag)
			})
		}
	})
	return r
}

// pollHit waits until the hit at edge has its receipts and returns the time from the search to
// the later of the GS and NCB receipts, by the times the nodes wrote (one machine, one clock). It
// polls once a second: the edge's API is across the thin link too, and the drill's own polling
// must not take the room it measures.
func pollHit(edge *nodeClient, id string, t0 time.Time, timeout time.Duration) (time.Duration, error) {
	for time.Since(t0) < timeout {
		time.Sleep(time.Second)
		if h, err := edge.hitGet(id); err == nil && h.delivered() {
			if lag, ok := h.receiptLag(); ok {
				return lag, nil
			}
		}
	}
	return 0, fmt.Errorf("hit %s: no receipts within %v", id, timeout)
}

// stop ends the run once every hit made has its receipts or has failed; a failed hit counts as
// an hour late, and is logged with why.
func (r *hitRun) stop(t *testing.T) []time.Duration {
	t.Helper()
	close(r.stopCh)
	r.wg.Wait()
	for _, f := range r.failed {
		t.Logf("hit without receipts: %s", f)
		r.lags = append(r.lags, time.Hour)
	}
	for _, f := range r.unmade {
		t.Logf("search made no hit (not counted): %s", f)
	}
	return r.lags
}

// reportHits measures the receipt times of the hits made during a phase; each must be back
// within 5 s.
func reportHits(t *testing.T, phase string, lags []time.Duration) {
	t.Helper()
	late := 0
	for _, l := range lags {
		if l > 5*time.Second {
			late++
		}
	}
	measure(t, "thinlink", phase+"_hits", float64(len(lags)), "hits")
	measure(t, "thinlink", phase+"_hit_receipts_p50", ms(quantile(lags, 0.5)), "ms")
	measure(t, "thinlink", phase+"_hit_receipts_p99", ms(quantile(lags, 0.99)), "ms")
	measure(t, "thinlink", phase+"_hit_receipts_max", ms(quantile(lags, 1)), "ms")
	if late > 0 {
		t.Errorf("%s: %d of %d hits made at the edge got their receipts after more than 5 s", phase, late, len(lags))
	}
}
