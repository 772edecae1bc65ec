package node

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Node-to-node calls (write forwarding, remote search) are one request and one answer on a fresh
// libp2p stream, each a length-prefixed JSON document. Streams are cheap on an open connection, and
// a stream per call keeps slow calls from blocking others.

const maxRPCBytes = 64 << 20

type rpcAnswer struct {
	Error *apiError `json:"error,omitempty"`
	// Status is the error's HTTP status (apiError keeps it out of its JSON), so a forwarded
	// error reaches the client with the status the remote chose.
	Status int             `json:"status,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// rpcError carries the remote's error shape back to the caller.
type rpcError struct{ *apiError }

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	var hdr [binary.MaxVarintLen64]byte
	bw.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(b)))])
	bw.Write(b)
	return bw.Flush()
}

func readFrame(r *bufio.Reader, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > maxRPCBytes {
		return fmt.Errorf("message of %d bytes over the limit", n)
	}
	// Grow with what arrives, not with what the prefix claims: a few bytes must not cost 64 MiB.
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return err
	}
	if uint64(len(b)) < n {
		return io.ErrUnexpectedEOF
	}
	return json.Unmarshal(b, v)
}

// call sends req to peer p on proto and decodes the answer's body into resp.
func (f *fed) call(ctx context.Context, p peer.ID, proto string, req, resp any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	s, err := f.host.NewStream(ctx, p, proto)
	if err != nil {
		return fmt.Errorf("reach %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeFrame(s, req); err != nil {
		s.Reset()
		return fmt.Errorf("send to %s: %w", p, err)
	}
	_ = s.CloseWrite()
	var ans rpcAnswer
	if err := readFrame(bufio.NewReader(s), &ans); err != nil {
		s.Reset()
		return fmt.Errorf("answer from %s: %w", p, err)
	}
	if ans.Error != nil {
		ans.Error.Status = ans.Status
		if ans.Error.Status == 0 {
			ans.Error.Status = http.StatusBadGateway
		}
		return rpcError{ans.Error}
	}
	return json.Unmarshal(ans.Body, resp)
}

// serve registers a handler for node-to-node calls on proto.
func serve[Req any](f *fed, proto string, h func(ctx context.Context, from peer.ID, req *Req) (any, error)) error {
	return f.host.Handle(proto, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(60 * time.Second))
		var req Req
		var ans rpcAnswer
		if err := readFrame(bufio.NewReader(s), &req); err != nil {
			ans.Error = errf(400, "bad_request", "%v", err)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
			body, err := h(ctx, s.Conn().RemotePeer(), &req)
			cancel()
			if err != nil {
				ans.Error = toAPIError(err)
			} else if ans.Body, err = json.Marshal(body); err != nil {
				ans.Error = toAPIError(err)
			}
		}
		if ans.Error != nil {
			ans.Status = ans.Error.Status
		}
		if err := writeFrame(s, ans); err != nil {
			s.Reset()
		}
	})
}

func isRPCCode(err error, code string) bool {
	var re rpcError
	return errors.As(err, &re) && re.Code == code
}

// Unwrap exposes the remote's error shape to errors.As.
func (e rpcError) Unwrap() error { return e.apiError }
