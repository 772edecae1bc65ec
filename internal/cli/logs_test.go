package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestLibrariesQuietBelowDebug(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string // messages that must appear
		not   []string // messages that must not
	}{
		{"info", []string{"own info", "raft warn", "libp2p error", "nested own"}, []string{"raft info", "memberlist debug", "own debug"}},
		{"warn", []string{"raft warn", "libp2p error"}, []string{"own info", "raft info"}},
		{"debug", []string{"own info", "own debug", "raft info", "memberlist debug", "raft warn"}, nil},
	} {
		t.Run(tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(&buf, "text", tc.level)
			log.Info("own info")
			log.Debug("own debug")
			raft := log.With("subsystem", "replication", "shard", "europe").With("subsystem", "raft")
			raft.Info("raft info")
			raft.Warn("raft warn")
			log.With("subsystem", "memberlist").Debug("memberlist debug")
			log.With("subsystem", "libp2p").Error("libp2p error")
			// A library's logger narrowed back to one of ours is ours again.
			raft.With("subsystem", "index").Info("nested own")
			out := buf.String()
			for _, m := range tc.want {
				if !strings.Contains(out, m) {
					t.Errorf("level %s: %q missing from\n%s", tc.level, m, out)
				}
			}
			for _, m := range tc.not {
				if strings.Contains(out, m) {
					t.Errorf("level %s: %q should be hidden:\n%s", tc.level, m, out)
				}
			}
		})
	}
}
