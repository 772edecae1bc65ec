//go:build localfed && thinlink

package drills

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// TestDrillThinLink (the thin-link drill, scripts/thinlink.sh): edge-cdg runs in its own network
// namespace behind tc tbf (512 kbit/s each way), the rest of the federation outside, every raft
// group snapshotting and compacting its log at once (snapshot_threshold 1, trailing_logs 1), so a
// holder that was away catches up by snapshot. It measures:
//   - initial catch-up of THINLINK_RECORDS (100,000) europe records: time, bytes on the wire
//     (the edge's replication counter and the tbf's own byte count) against the snapshot's plain size;
//   - a day of changes (THINLINK_DAY, 5,000 records) after a week away (the edge stopped, the log
//     compacted behind it): time;
//   - the link cut once 90% of a snapshot has arrived, held down THINLINK_CUT_HOLD (45 s, long
//     enough for libp2p to drop the connection) and restored: the transfer resumes, bytes re-sent;
//   - hits made at edge-cdg (on africa records it holds) every 2 s during the first two catch-ups
//     (not across the cut, when they cannot leave): time until both receipts are back at the edge.
func TestDrillThinLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the thin-link drill needs root (network namespaces, tc): run scripts/thinlink.sh as root")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc missing")
	}
	link := thinLinkUp(t)
	n := size(t, "THINLINK_RECORDS", 100000, 10000)
	day := size(t, "THINLINK_DAY", 5000, 1000)
	hold := 45 * time.Second
	if v := os.Getenv("THINLINK_CUT_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("THINLINK_CUT_HOLD=%q: %v", v, err)
		}
		hold = d
	}
	// The edge's own cap on replication, below the link's rate, leaves room for hits and receipts
	// (THINLINK_EDGE_CAP=0: none).
	edgeCap := os.Getenv("THINLINK_EDGE_CAP")
	if edgeCap == "" {
		edgeCap = "384kbit"
	}
	if edgeCap == "0" {
		edgeCap = ""
	}
	t.Logf("edge-cdg max_bandwidth %q", edgeCap)
	// THINLINK_VARIANT=raftlog: edge-cdg a raft non-voter (LOCALFED_NO_FED) and no log compacted,
	// so the initial catch-up comes from the leader's log, not a snapshot; only that phase runs.
	raftLog := os.Getenv("THINLINK_VARIANT") == "raftlog"
	env := []string{"LOCALFED_P2P_HOST=" + link.net + ".1", "LOCALFED_NETNS_MAX_BANDWIDTH=" + edgeCap,
		"LOCALFED_NETNS=edge-cdg=" + link.ns + "@" + link.net + ".2", "LOCALFED_READY_TIMEOUT=5m"}
	if raftLog {
		env = append(env, "LOCALFED_NO_FED=1")
	} else {
		env = append(env, "LOCALFED_RAFT_SNAPSHOT_THRESHOLD=1", "LOCALFED_RAFT_TRAILING_LOGS=1")
	}
	f := startFedEnv(t, "thinlink", env...)
	edge := f.node("edge-cdg")
	targets := importTargets(t, f, "KE", "THIN", 50) // africa: edge-cdg holds them before it goes away
	hm := newHitMaker(t, f, "edge-cdg")
	ncb := f.node("ncb-fr")
	tok := ncb.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	lines, _ := genRecords(t, f, n+3*day, 11, "FR", "THIN-")

	// Initial catch-up: the edge away while n records are imported and the shard compacted.
	total := n
	f.localfed("stop", "edge-cdg")
	if raftLog {
		importLines(t, ncb, tok, lines[:n], 10000)
		testutil.WaitFor(t, 5*time.Minute, fmt.Sprintf("%d records at every europe holder but edge-cdg", total), func() bool {
			for _, h := range f.holders("europe") {
				if h.name != "edge-cdg" && records(h, "europe") != uint64(total) {
					return false
				}
			}
			return true
		})
	} else {
		importAndCompact(t, f, ncb, tok, lines[:n], total)
	}
	tc0 := link.sentBytes(t)
	logAt := logSize(edge)
	hits := startHits(hm, targets)
	took := startAndCatchUp(t, f, edge, total)
	lags := hits.stop(t)
	measure(t, "thinlink", "catchup_searches_without_hit", float64(len(hits.unmade)), "searches")
	wire := replicationReceived(t, edge, "europe")
	snaps := snapshotsReceived(t, edge, logAt)
	tcBytes := link.sentBytes(t) - tc0
	plain := int64(0)
	for _, s := range snaps {
		plain = max(plain, s.size)
	}
	measure(t, "thinlink", "catchup_records", float64(n), "records")
	measure(t, "thinlink", "catchup_seconds", took.Seconds(), "s")
	measure(t, "thinlink", "catchup_replication_bytes", float64(wire), "bytes")
	measure(t, "thinlink", "catchup_link_bytes", float64(tcBytes), "bytes")
	measure(t, "thinlink", "catchup_snapshot_plain_bytes", float64(plain), "bytes")
	measure(t, "thinlink", "catchup_edge_peak_rss", float64(peakRSS(t, edge))/(1<<20), "MiB")
	if raftLog {
		// The log's entries carry the records' plain encoding: the 100,000 records' share is
		// reported against the fed edge's copy (the same records) in the notes, not here.
		if len(snaps) > 0 {
			t.Errorf("the raft non-voter caught up by snapshot, not from the log: %+v", snaps)
		}
		if took > 2*time.Minute {
			t.Errorf("catch-up of %d records from the raft log took %v, want under 2 minutes", n, took)
		}
		reportHits(t, "catchup", lags)
		return
	}
	if plain > 0 {
		measure(t, "thinlink", "catchup_wire_share_of_plain", 100*float64(wire)/float64(plain), "%")
		if wire*100 > plain*35 {
			t.Errorf("catch-up took %d bytes of replication on the wire for a %d-byte snapshot: over 35%%", wire, plain)
		}
	} else {
		t.Errorf("the edge caught up without a snapshot or a feed copy (log lines: %+v)", snaps)
	}
	if took > 2*time.Minute {
		t.Errorf("initial catch-up of %d records took %v, want under 2 minutes", n, took)
	}
	reportHits(t, "catchup", lags)

	// A day of changes after a week away: the edge stopped, day records written, the log compacted.
	f.localfed("stop", "edge-cdg")
	total += day
	importAndCompact(t, f, ncb, tok, lines[n:n+day], total)
	hits = startHits(hm, targets)
	logAt = logSize(edge)
	took = startAndCatchUp(t, f, edge, total)
	reportHits(t, "day", hits.stop(t))
	measure(t, "thinlink", "day_searches_without_hit", float64(len(hits.unmade)), "searches")
	// From entries the source kept, or a copy of its state (the log behind it compacted).
	dayCopies := snapshotsReceived(t, edge, logAt)
	measure(t, "thinlink", "day_copies", float64(len(dayCopies)), "copies")
	t.Logf("a day after a week away: %d copies of the state (%+v); none: from entries", len(dayCopies), dayCopies)
	measure(t, "thinlink", "day_records", float64(day), "records")
	measure(t, "thinlink", "day_after_week_seconds", took.Seconds(), "s")

	// The link cut at 90% of a snapshot, held down, restored.
	f.localfed("stop", "edge-cdg")
	total += day
	importAndCompact(t, f, ncb, tok, lines[n+day:n+2*day], total)
	at, cutAt, took, snaps := cutCopyAt90(t, f, link, edge, total, hold, func() {})
	t.Logf("snapshot transfers at the edge across the cut: %+v", snaps)
	measure(t, "thinlink", "cut_at_share", 100*at, "%")
	measure(t, "thinlink", "cut_at_seconds", cutAt.Seconds(), "s")
	measure(t, "thinlink", "cut_hold_seconds", hold.Seconds(), "s")
	measure(t, "thinlink", "cut_total_seconds", took.Seconds(), "s")
	if len(snaps) < 2 || snaps[len(snaps)-1].err != "" {
		t.Fatalf("want a cut transfer then a whole one, got %+v", snaps)
	}
	last, first := snaps[len(snaps)-1], snaps[0]
	measure(t, "thinlink", "cut_snapshot_plain_bytes", float64(last.size), "bytes")
	measure(t, "thinlink", "cut_resumed_bytes", float64(last.resumed), "bytes")
	if last.feed {
		// A feed copy: the cut stream's bytes on the wire and what it left held; the resumed
		// stream's bytes on the wire. Sent again: what was held at the cut but not resumed from
		// (a tail cut on disk); what was in flight at the cut never arrived and is not counted.
		measure(t, "thinlink", "cut_stream_wire_bytes", float64(first.sent), "bytes")
		measure(t, "thinlink", "cut_held_bytes", float64(first.held), "bytes")
		measure(t, "thinlink", "cut_resume_stream_wire_bytes", float64(last.sent), "bytes")
		measure(t, "thinlink", "cut_resent_bytes", float64(max(first.held-last.resumed, 0)), "bytes")
	} else {
		measure(t, "thinlink", "cut_resent_bytes", float64(last.sent), "bytes")
	}
	if last.resumed*10 < last.size*8 {
		t.Errorf("resumed %d of %d bytes after a cut at %.0f%%, want at least 80%%", last.resumed, last.size, 100*at)
	}
	f.waitConverged(t, 2*time.Minute)
	cutElsewhere(t, f, link, edge, ncb, tok, lines[n+2*day:], total+day, hold)
}

// cutElsewhere: the link cut at 90% of a copy from ncb-fr, and ncb-fr stopped while it is down:
// once the link is back, the edge resumes the copy from ncb-fr-2 (its next source), which sends
// only the ranges of records that differ from those held and the records after them.
func cutElsewhere(t *testing.T, f *fed, link *thinLink, edge, ncb *nodeClient, tok string, lines [][]byte, total int, hold time.Duration) {
	f.localfed("stop", "edge-cdg")
	importAndCompact(t, f, ncb, tok, lines, total)
	at, _, took, snaps := cutCopyAt90(t, f, link, edge, total, hold, func() { f.localfed("stop", "ncb-fr") })
	t.Logf("copies at the edge across the cut, ncb-fr gone: %+v", snaps)
	f.localfed("start", "ncb-fr")
	if len(snaps) < 2 || snaps[len(snaps)-1].err != "" {
		t.Fatalf("want a cut copy then a whole one, got %+v", snaps)
	}
	first, last := snaps[0], snaps[len(snaps)-1]
	measure(t, "thinlink", "elsewhere_cut_at_share", 100*at, "%")
	measure(t, "thinlink", "elsewhere_total_seconds", took.Seconds(), "s")
	measure(t, "thinlink", "elsewhere_copy_plain_bytes", float64(first.size), "bytes")
	measure(t, "thinlink", "elsewhere_cut_stream_wire_bytes", float64(first.sent), "bytes")
	measure(t, "thinlink", "elsewhere_diff_plain_bytes", float64(last.size), "bytes")
	measure(t, "thinlink", "elsewhere_summary_wire_bytes", float64(last.asked), "bytes")
	measure(t, "thinlink", "elsewhere_resume_stream_wire_bytes", float64(last.sent), "bytes")
	measure(t, "thinlink", "elsewhere_records_kept", float64(last.kept), "records")
	measure(t, "thinlink", "elsewhere_records_sent", float64(last.recs), "records")
	if last.heldFrom != "ncb-fr" || last.kept == 0 {
		t.Errorf("want the copy resumed from another source with records kept from ncb-fr, got %+v", last)
	}
	f.waitConverged(t, 2*time.Minute)
}

// cutCopyAt90 starts the edge (stopped, a copy behind), cuts its link once 90% of the copy has
// arrived, runs whileDown, holds the link down for hold, restores it, and waits until the edge
// holds total europe records: the share held at the cut, when the cut came and how long it all
// took from the start, and the copies the edge logged meanwhile.
func cutCopyAt90(t *testing.T, f *fed, link *thinLink, edge *nodeClient, total int, hold time.Duration, whileDown func()) (float64, time.Duration, time.Duration, []snapshotLine) {
	t.Helper()
	logAt := logSize(edge)
	t0 := time.Now()
	started := make(chan error, 1)
	go func() { _, err := f.localfedOut("start", "edge-cdg"); started <- err }()
	var at float64
	testutil.WaitFor(t, 5*time.Minute, "90% of the copy at the edge", func() bool {
		at = partialShare(edge)
		return at >= 0.9
	})
	link.cut(t)
	cutAt := time.Since(t0)
	whileDown()
	time.Sleep(hold)
	link.heal(t)
	if err := <-started; err != nil {
		t.Logf("localfed start edge-cdg across the cut: %v", err)
	}
	testutil.WaitFor(t, 10*time.Minute, fmt.Sprintf("%d europe records at edge-cdg", total), func() bool {
		return records(edge, "europe") == uint64(total)
	})
	return at, cutAt, time.Since(t0), snapshotsReceived(t, edge, logAt)
}
