package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/network"
)

// On ProtoRaftZstd every write raft makes (raft's NetworkTransport buffers 256 KiB and flushes after
// each RPC) travels as one or more frames, each compressed on its own:
//
//	kind (1 byte)  0 = raw, 1 = zstd
//	uvarint        decoded length, 1..MaxRaftFrame
//	uvarint        wire length (zstd only), 1..decoded length-1
//	payload        the decoded bytes (raw), or one zstd frame that decodes to exactly them
//
// A frame is raw when zstd would not make it smaller (a heartbeat, an answer). The decoded length is
// announced and bounded before a byte is decompressed, and the decoder writes into a buffer of that
// capacity and no more, so a frame that inflates past its announcement (a zstd bomb) costs at most
// MaxRaftFrame bytes and is refused. Frames are independent (no history across them): a frame of
// raft's 256 KiB holds hundreds of records, enough context for zstd, and the encoder and decoder are
// shared by every stream instead of holding a window per stream.

// MaxRaftFrame bounds the decoded bytes of one frame; longer writes are split.
const MaxRaftFrame = 256 << 10

// Frame kinds.
const (
	frameRaw  = 0
	frameZstd = 1
)

// errBadFrame is a frame that breaks the format: an unknown kind, a length out of bounds, zstd that
// does not decode to exactly the announced bytes.
var errBadFrame = errors.New("bad raft frame")

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
	zstdErr  error
)

// zstdCodec is the process's shared encoder and decoder; EncodeAll and DecodeAll may be called
// concurrently, each holding one of GOMAXPROCS internal coders at a time.
func zstdCodec() (*zstd.Encoder, *zstd.Decoder, error) {
	zstdOnce.Do(func() {
		n := runtime.GOMAXPROCS(0)
		zstdEnc, zstdErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(n), zstd.WithWindowSize(MaxRaftFrame), zstd.WithZeroFrames(true))
		if zstdErr != nil {
			return
		}
		zstdDec, zstdErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(n),
			zstd.WithDecoderMaxMemory(MaxRaftFrame), zstd.WithDecoderMaxWindow(MaxRaftFrame),
			zstd.WithDecodeAllCapLimit(true))
	})
	return zstdEnc, zstdDec, zstdErr
}

// zstdStream carries a raft stream's bytes in frames over wire; it is what raft reads and writes
// on ProtoRaftZstd. Read is called from one goroutine and Write from one (raft's rule for a conn).
type zstdStream struct {
	network.Stream // wire: deadlines, Close and Reset are its own
	enc            *zstd.Encoder
	dec            *zstd.Decoder
	src            *bufio.Reader
	// bad is told of a frame that breaks the format (the peer's fault); nil on nobody to tell.
	bad func(err error)

	decoded []byte // the current frame's bytes raft has not read yet
	rbuf    []byte // read scratch: the current frame's decoded bytes
	zbuf    []byte // read scratch: the current frame's compressed bytes
	zw      []byte // write scratch: the compressed chunk
	wbuf    []byte // write scratch: one frame
	rerr    error  // once set, every Read returns it
}

// newZstdStream frames raft's bytes over wire.
func newZstdStream(wire network.Stream, bad func(error)) (*zstdStream, error) {
	enc, dec, err := zstdCodec()
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return &zstdStream{Stream: wire, enc: enc, dec: dec, src: bufio.NewReaderSize(wire, 64<<10), bad: bad}, nil
}

// Write sends p as frames of at most MaxRaftFrame decoded bytes, one wire write each.
func (z *zstdStream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxRaftFrame)]
		if err := z.writeFrame(chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// writeFrame compresses chunk into one frame, or sends it raw when zstd does not make it smaller;
// the frame is one write on the wire.
func (z *zstdStream) writeFrame(chunk []byte) error {
	z.zw = z.enc.EncodeAll(chunk, z.zw[:0])
	frame := z.wbuf[:0]
	if len(z.zw) > 0 && len(z.zw) < len(chunk) {
		frame = append(frame, frameZstd)
		frame = binary.AppendUvarint(frame, uint64(len(chunk)))
		frame = binary.AppendUvarint(frame, uint64(len(z.zw)))
		frame = append(frame, z.zw...)
	} else {
		frame = append(frame, frameRaw)
		frame = binary.AppendUvarint(frame, uint64(len(chunk)))
		frame = append(frame, chunk...)
	}
	z.wbuf = frame
	_, err := z.Stream.Write(frame)
	return err
}

// Read hands raft the decoded bytes of the frames, in order.
func (z *zstdStream) Read(p []byte) (int, error) {
	for len(z.decoded) == 0 {
		if z.rerr != nil {
			return 0, z.rerr
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := z.readFrame(); err != nil {
			if errors.Is(err, errBadFrame) && z.bad != nil {
				z.bad(err)
			}
			z.rerr = err
		}
	}
	n := copy(p, z.decoded)
	z.decoded = z.decoded[n:]
	return n, nil
}

// readFrame reads and decodes the next frame into decoded.
func (z *zstdStream) readFrame() error {
	kind, err := z.src.ReadByte()
	if err != nil {
		return err // EOF between frames is the sender closing; anything else the stream breaking
	}
	size, err := readFrameLen(z.src, MaxRaftFrame)
	if err != nil {
		return err
	}
	if cap(z.rbuf) < MaxRaftFrame {
		z.rbuf = make([]byte, MaxRaftFrame)
	}
	out := z.rbuf[:size]
	switch kind {
	case frameRaw:
		if _, err := io.ReadFull(z.src, out); err != nil {
			return frameReadErr(err)
		}
	case frameZstd:
		wire, err := readFrameLen(z.src, size-1)
		if err != nil {
			return err
		}
		if cap(z.zbuf) < MaxRaftFrame {
			z.zbuf = make([]byte, MaxRaftFrame)
		}
		in := z.zbuf[:wire]
		if _, err := io.ReadFull(z.src, in); err != nil {
			return frameReadErr(err)
		}
		// The capacity is the announced length: DecodeAll (with its cap limit) writes no further.
		got, err := z.dec.DecodeAll(in, out[:0:size])
		if err != nil {
			return fmt.Errorf("%w: zstd: %w", errBadFrame, err)
		}
		if len(got) != int(size) {
			return fmt.Errorf("%w: decodes to %d bytes, announced %d", errBadFrame, len(got), size)
		}
		out = got
	default:
		return fmt.Errorf("%w: kind %d", errBadFrame, kind)
	}
	z.decoded = out
	return nil
}

// frameReadErr is an error inside a frame: the stream broke (or its deadline passed) mid-frame.
func frameReadErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readFrameLen reads a uvarint length in 1..limit, refusing it by its first bytes when it cannot be:
// at most four bytes are read (limit is below 2^28).
func readFrameLen(r io.ByteReader, limit uint64) (uint64, error) {
	var v uint64
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, frameReadErr(err)
		}
		v |= uint64(b&0x7f) << (7 * i)
		if v > limit {
			break
		}
		if b < 0x80 {
			if v == 0 {
				break
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: a length not in 1-%d", errBadFrame, limit)
}
