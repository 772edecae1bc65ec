package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var (
	// errRPCTooBig is a raft request larger than the layer allows.
	errRPCTooBig = errors.New("raft request larger than allowed")
	// errMalformed is bytes that are no msgpack value.
	errMalformed = errors.New("malformed msgpack")
)

// scanMsgpack copies exactly one msgpack value (with everything nested in it) from r to buf, and
// refuses it once buf would hold more than limit bytes. It reads the value's own length prefixes,
// so it never reads past the value's end, and buf grows only as the bytes arrive: a length prefix
// announcing gigabytes costs nothing until the sender sends them, and is refused before then when
// it is over the limit. Other errors are the reader's (io.ErrUnexpectedEOF for an end inside the
// value).
//
// msgpack's codec would allocate a bin or str of the announced length before reading it; raft's own
// decoder then reads these bytes, whose lengths are known to be honest, from the layer.
func scanMsgpack(r *bufio.Reader, buf *bytes.Buffer, limit int) error {
	pending := uint64(1) // values still to read; each takes at least one byte
	for pending > 0 {
		pending--
		b, err := r.ReadByte()
		if err != nil {
			return unexpectedEOF(err)
		}
		buf.WriteByte(b)
		var lenBytes int     // bytes of a big-endian length or count after b
		var extra uint64     // bytes of payload beyond the length (an ext's type byte)
		var payload uint64   // bytes of payload when fixed by b
		var container uint64 // values per counted item: 1 for arrays, 2 for maps
		switch {
		case b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3: // fixint, nil, bool
		case b <= 0x8f: // fixmap
			pending += 2 * uint64(b&0x0f)
		case b <= 0x9f: // fixarray
			pending += uint64(b & 0x0f)
		case b <= 0xbf: // fixstr
			payload = uint64(b & 0x1f)
		default:
			switch b {
			case 0xc4, 0xd9: // bin8, str8
				lenBytes = 1
			case 0xc5, 0xda: // bin16, str16
				lenBytes = 2
			case 0xc6, 0xdb: // bin32, str32
				lenBytes = 4
			case 0xc7: // ext8
				lenBytes, extra = 1, 1
			case 0xc8: // ext16
				lenBytes, extra = 2, 1
			case 0xc9: // ext32
				lenBytes, extra = 4, 1
			case 0xcc, 0xd0: // uint8, int8
				payload = 1
			case 0xcd, 0xd1: // uint16, int16
				payload = 2
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				payload = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				payload = 8
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 (after the type byte)
				payload = 1 + 1<<(b-0xd4)
			case 0xdc: // array16
				lenBytes, container = 2, 1
			case 0xdd: // array32
				lenBytes, container = 4, 1
			case 0xde: // map16
				lenBytes, container = 2, 2
			case 0xdf: // map32
				lenBytes, container = 4, 2
			default: // 0xc1 is never used
				return fmt.Errorf("%w: byte %#x starts no value", errMalformed, b)
			}
		}
		if lenBytes > 0 {
			var lb [4]byte
			if _, err := io.ReadFull(r, lb[4-lenBytes:]); err != nil {
				return unexpectedEOF(err)
			}
			buf.Write(lb[4-lenBytes:])
			n := uint64(binary.BigEndian.Uint32(lb[:]))
			if container > 0 {
				pending += container * n
			} else {
				payload = n + extra
			}
		}
		room := uint64(0)
		if buf.Len() < limit {
			room = uint64(limit - buf.Len())
		}
		if payload > room || pending > room-payload {
			return errRPCTooBig
		}
		if payload > 0 {
			if _, err := io.CopyN(buf, r, int64(payload)); err != nil {
				return unexpectedEOF(err)
			}
		}
	}
	return nil
}

// unexpectedEOF turns an EOF inside a value into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
