package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSnapshotCatchUp is the CI size of `benchtool snapshot-catchup`: a follower joins after the
// leader's log was compacted past its position and must reach the leader's digest by snapshot,
// over libp2p and over the in-memory baseline.
func TestSnapshotCatchUp(t *testing.T) {
	for _, over := range []string{overLibp2p, overInmem} {
		t.Run(over, func(t *testing.T) {
			o := catchupOptions{Over: over, Records: 5000, Batch: 250, Trailing: 4, Seed: 7, Dir: t.TempDir(), Timeout: time.Minute}
			r, err := runCatchup(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Follower.Records != 5000 || r.Follower.Digest != r.Leader.Digest {
				t.Fatalf("follower %d records %s, leader %d records %s", r.Follower.Records, r.Follower.Digest, r.Leader.Records, r.Leader.Digest)
			}
			// 20 commands after the bootstrap configuration and the leader's no-op, 4 kept.
			if r.Commands != 20 || r.LeaderFirstIndex <= 1 || r.SnapshotIndex < 22 {
				t.Fatalf("commands %d, snapshot at %d, leader's log from %d", r.Commands, r.SnapshotIndex, r.LeaderFirstIndex)
			}
			if r.Restored <= 0 || r.Restored > r.CatchUp || r.SnapshotBytes < 5000*50 {
				t.Fatalf("restored after %v of %v; snapshot %d bytes", r.Restored, r.CatchUp, r.SnapshotBytes)
			}
			if r.Peak.Err != nil || r.Peak.Samples < 2 || r.Peak.Proc.RSS == 0 || r.Peak.Heap == 0 {
				t.Fatalf("memory samples: %+v", r.Peak)
			}
		})
	}
}

func TestRunCatchupRejectsUnknownTransport(t *testing.T) {
	_, err := runCatchup(context.Background(), catchupOptions{Over: "carrier-pigeon", Records: 1, Batch: 1, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseProcStatus(t *testing.T) {
	const full = "Name:\tbenchtool\nVmPeak:\t  900 kB\nVmHWM:\t   4096 kB\nVmRSS:\t    2048 kB\nRssAnon:\t    1024 kB\nRssFile:\t     512 kB\nRssShmem:\t 0 kB\n"
	tests := []struct {
		name    string
		in      string
		want    procMem
		wantErr string
	}{
		{"all fields", full, procMem{RSS: 2 << 20, Anon: 1 << 20, File: 512 << 10, HWM: 4 << 20}, ""},
		{"a field missing", strings.Replace(full, "RssFile:\t     512 kB\n", "", 1), procMem{}, "found 3 of"},
		{"not kB", strings.Replace(full, "2048 kB", "2048 MB", 1), procMem{}, "want a size in kB"},
		{"not a number", strings.Replace(full, "1024 kB", "1O24 kB", 1), procMem{}, "invalid syntax"},
		{"empty", "", procMem{}, "found 0 of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStatus([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
