package cli

import (
	"context"
	"io"
	"log/slog"
)

// librarySubsystems are the loggers of the libraries a node runs (raft, raft's network layer,
// memberlist, libp2p). At any level but debug only their warnings and errors are shown: their
// info lines (every election, every connection) bury the few lines an operator needs.
var librarySubsystems = map[string]bool{"raft": true, "raft-net": true, "memberlist": true, "libp2p": true}

// newLogger builds the node's logger: text or JSON at level (debug, info, warn, error; info when
// empty or unknown), with the libraries held at warning unless level is debug.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	if lv > slog.LevelDebug {
		h = &quietLibraries{Handler: h}
	}
	return slog.New(h)
}

// quietLibraries passes a library's records (a logger whose subsystem is in librarySubsystems)
// only from warning up, and everything else as the wrapped handler decides.
type quietLibraries struct {
	slog.Handler
	library bool // the logger's subsystem attribute names a library
}

func (q *quietLibraries) Enabled(ctx context.Context, l slog.Level) bool {
	if q.library && l < slog.LevelWarn {
		return false
	}
	return q.Handler.Enabled(ctx, l)
}

func (q *quietLibraries) Handle(ctx context.Context, r slog.Record) error {
	if q.library && r.Level < slog.LevelWarn {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q *quietLibraries) WithAttrs(as []slog.Attr) slog.Handler {
	library := q.library
	for _, a := range as {
		if a.Key == "subsystem" {
			// The innermost subsystem names the logger (replication's raft logger is
			// replication's logger With subsystem=raft).
			library = librarySubsystems[a.Value.String()]
		}
	}
	return &quietLibraries{Handler: q.Handler.WithAttrs(as), library: library}
}

func (q *quietLibraries) WithGroup(name string) slog.Handler {
	return &quietLibraries{Handler: q.Handler.WithGroup(name), library: q.library}
}
