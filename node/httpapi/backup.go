package httpapi

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

// BackupSource is a backend that can back itself up (the node does; a test's fake need not).
type BackupSource interface {
	// BackupEstimate is roughly how many bytes a backup writes, for the client's progress bar.
	BackupEstimate() int64
	// Backup writes a backup (a tar stream ending with its manifest) to w.
	Backup(ctx context.Context, p auth.Principal, req wire.BackupRequest, w io.Writer) error
}

// backup streams a backup of the node to the client: the operator's machine gets the copy, the
// node needs no room for one, and the copy leaves the node's disk as it is made.
func (a *api) backup(src BackupSource) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var req wire.BackupRequest
		if r.ContentLength != 0 {
			if err := wire.DecodeStrict(r.Body, &req); err != nil && err != io.EOF {
				return err
			}
		}
		w.Header().Set("Content-Type", "application/x-tar")
		w.Header().Set("Fedarms-Backup-Estimate", strconv.FormatInt(src.BackupEstimate(), 10))
		dw := &deadlineWriter{w: w, d: newStreamDeadlines(w, a.streamIdle)}
		err := src.Backup(r.Context(), p, req, dw)
		if !dw.started {
			return err // refused before the first byte: an ordinary error answer
		}
		// Errors after the status was sent reach the client in the stream (an ERROR file).
		return nil
	}
}

// deadlineWriter sends the status with the first byte and pushes the write deadline ahead of
// each write of a long answer.
type deadlineWriter struct {
	w       http.ResponseWriter
	d       *streamDeadlines
	started bool
}

func (dw *deadlineWriter) Write(p []byte) (int, error) {
	if !dw.started {
		dw.started = true
		dw.w.WriteHeader(http.StatusOK)
	}
	dw.d.writing()
	return dw.w.Write(p)
}
