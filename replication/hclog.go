package replication

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// HCLogger routes hclog output (raft's transport, for one) into slog; see newHCLogger.
func HCLogger(l *slog.Logger, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: &hclogWriter{log: l}, DisableTime: true})
}

// newHCLogger routes raft's hclog output into slog (subsystem=raft). Raft logs a lot at info level
// on elections and snapshots; that is useful to operators, so it is kept at info.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Info,
		Output: &hclogWriter{log: l},
		// Plain lines: the writer turns each into one slog record.
		DisableTime: true,
	})
}

// LogWriter returns a writer that turns each line a library writes with a level tag ("[ERROR]",
// "[ERR]", "[WARN]", "[INFO]", "[DEBUG]": hclog's and memberlist's) into one slog record at that
// level, so a quiet log level hides a library's chatter without hiding its warnings.
func LogWriter(l *slog.Logger) io.Writer { return &hclogWriter{log: l} }

// hclogWriter turns each line hclog writes into one slog record, keeping hclog's level.
type hclogWriter struct{ log *slog.Logger }

func (w *hclogWriter) Write(p []byte) (int, error) {
	// hclog writes one entry per call; a multi-line entry (an error with its causes) stays one record.
	line := bytes.TrimSpace(p)
	if len(line) == 0 {
		return len(p), nil
	}
	level := slog.LevelInfo
	switch {
	case bytes.Contains(line, []byte("[ERROR]")), bytes.Contains(line, []byte("[ERR]")):
		level = slog.LevelError
	case firstElection(line):
		// Every raft group starts this way: no leader was ever known, so the first heartbeat
		// timeout starts the first election. A warning only when a known leader went quiet.
		level = slog.LevelInfo
	case bytes.Contains(line, []byte("[WARN]")):
		level = slog.LevelWarn
	case bytes.Contains(line, []byte("[DEBUG]")), bytes.Contains(line, []byte("[TRACE]")):
		level = slog.LevelDebug
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(string(line), "\n", " | ")), " ")
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// firstElection reports raft's "heartbeat timeout reached, starting election" for a group that has
// never known a leader (last-leader-id is empty).
func firstElection(line []byte) bool {
	if !bytes.Contains(line, []byte("heartbeat timeout reached, starting election")) {
		return false
	}
	i := bytes.Index(line, []byte("last-leader-id="))
	if i < 0 {
		return false
	}
	rest := line[i+len("last-leader-id="):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\n'
}

var _ io.Writer = (*hclogWriter)(nil)
