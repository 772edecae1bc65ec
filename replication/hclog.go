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
	case bytes.Contains(line, []byte("[ERROR]")):
		level = slog.LevelError
	case bytes.Contains(line, []byte("[WARN]")):
		level = slog.LevelWarn
	case bytes.Contains(line, []byte("[DEBUG]")), bytes.Contains(line, []byte("[TRACE]")):
		level = slog.LevelDebug
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(string(line), "\n", " | ")), " ")
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

var _ io.Writer = (*hclogWriter)(nil)
