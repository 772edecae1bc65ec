package replication

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogWriterLevels(t *testing.T) {
	for _, tc := range []struct{ line, level string }{
		{"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=", "INFO"},
		{"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr=lyon-1 last-leader-id=lyon-1", "WARN"},
		{"[ERR] memberlist: failed to receive: bad frame", "ERROR"},
		{"[ERROR] raft: failed to appendEntries", "ERROR"},
		{"[DEBUG] memberlist: stream connection from peer", "DEBUG"},
		{"[INFO]  raft: entering leader state", "INFO"},
	} {
		var buf bytes.Buffer
		w := LogWriter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if _, err := w.Write([]byte(tc.line + "\n")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "level="+tc.level) {
			t.Errorf("%q: want level %s, got %s", tc.line, tc.level, buf.String())
		}
	}
}
