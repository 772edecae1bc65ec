package node

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/node/wire"
)

// Node-to-node calls (write forwarding, remote search) are one request and one answer on a fresh
// libp2p stream, each a length-prefixed JSON document. Streams are cheap on an open connection, and
// a stream per call keeps slow calls from blocking others.

type rpcAnswer struct {
	Error *wire.Error `json:"error,omitempty"`
	// Status is the error's kind as every release has numbered it beside the error (the HTTP
	// status it had): rpcStatus writes it and rpcKind reads it, so a refusal means the same to an
	// older node and a newer one.
	Status int             `json:"status,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// rpcStatuses numbers each kind in a node-to-node answer. The numbers are those of the HTTP
// statuses the errors had when the answers were introduced; they are on the wire, so they stay.
var rpcStatuses = map[wire.Kind]int{
	wire.Invalid: 400, wire.Unauthenticated: 401, wire.Forbidden: 403, wire.NotFound: 404,
	wire.Conflict: 409, wire.TooLarge: 413, wire.UnsupportedMedia: 415, wire.Internal: 500,
	wire.Unavailable: 503, wire.TooMany: 429,
}

// rpcStatus is the number a node-to-node answer carries for kind.
func rpcStatus(k wire.Kind) int {
	if s, ok := rpcStatuses[k]; ok {
		return s
	}
	return 500
}

// rpcKind is the kind of a node-to-node answer's number. A number no release sends for a kind
// is still a refusal: the caller's fault below 500, the remote's from 500 on.
func rpcKind(status int) wire.Kind {
	for k, s := range rpcStatuses {
		if s == status {
			return k
		}
	}
	if status >= 400 && status < 500 {
		return wire.Invalid
	}
	return wire.Internal
}

// rpcError carries the remote's refusal back to the caller, with its kind and code.
type rpcError struct{ remote *wire.Error }

func (e rpcError) Error() string { return e.remote.Message }

// Unwrap exposes the remote's error to errors.As, so it reaches an API client as it is.
func (e rpcError) Unwrap() error { return e.remote }

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
	if err := readFrameLimit(bufio.NewReader(s), &ans, limitOf(proto).answer, nil); err != nil {
		s.Reset()
		if errors.Is(err, errFrameTooBig) {
			f.refuse(p, proto, "frame_too_big", err)
		}
		return fmt.Errorf("answer from %s: %w", p, err)
	}
	if ans.Error != nil {
		ans.Error.Kind = rpcKind(ans.Status)
		return rpcError{ans.Error}
	}
	return json.Unmarshal(ans.Body, resp)
}

// serve registers a handler for node-to-node calls on proto. The caller is a member but may be
// hostile: its request is read within the protocol's frame limit, the member's share of the frame
// budget and a deadline (see frames.go) before the handler sees it.
func serve[Req any](f *fed, proto string, h func(ctx context.Context, from peer.ID, req *Req) (any, error)) error {
	limit := limitOf(proto).request
	return f.host.Handle(proto, func(s network.Stream) {
		defer s.Close()
		start := time.Now() // wall clock: stream deadlines are the network's, not the node's clock
		_ = s.SetDeadline(start.Add(60 * time.Second))
		_ = s.SetReadDeadline(start.Add(frameHeaderTimeout))
		from := s.Conn().RemotePeer()
		booked := 0
		defer func() {
			if booked > 0 && f.frames != nil {
				f.frames.give(from, booked)
			}
		}()
		grant := func(frame, n int) error {
			if booked == 0 {
				// The length is known once the first chunk is asked for: give the body its time.
				body := frameHeaderTimeout + time.Duration(frame/frameMinRate)*time.Second
				_ = s.SetReadDeadline(start.Add(min(body, 60*time.Second)))
			}
			if f.frames == nil {
				return nil
			}
			if err := f.frames.take(from, n); err != nil {
				return err
			}
			booked += n
			return nil
		}
		var req Req
		var ans rpcAnswer
		if err := readFrameLimit(bufio.NewReader(s), &req, limit, grant); err != nil {
			switch {
			case errors.Is(err, errFrameTooBig):
				f.refuse(from, proto, "frame_too_big", err)
				ans.Error = wire.Errorf(wire.Invalid, "frame_too_big", "%v", err)
			case errors.Is(err, errOverBudget):
				f.refuse(from, proto, "over_budget", err)
				ans.Error = wire.Errorf(wire.Unavailable, "unavailable", "%v", err)
			default:
				ans.Error = wire.Errorf(wire.Invalid, "bad_request", "%v", err)
			}
		} else {
			_ = s.SetReadDeadline(time.Time{})
			ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
			body, err := h(ctx, from, &req)
			cancel()
			if err != nil {
				ans.Error = apiError(err)
			} else if ans.Body, err = json.Marshal(body); err != nil {
				ans.Error = apiError(err)
			}
		}
		if ans.Error != nil {
			ans.Status = rpcStatus(ans.Error.Kind)
		}
		if err := writeFrame(s, ans); err != nil {
			s.Reset()
		}
	})
}

// refuse records a member's refused request when the node has said how (startFederation).
func (f *fed) refuse(from peer.ID, proto, reason string, detail error) {
	if f.refused != nil {
		f.refused(from, proto, reason, detail)
	}
}

func isRPCCode(err error, code string) bool {
	var re rpcError
	return errors.As(err, &re) && re.remote.Code == code
}
