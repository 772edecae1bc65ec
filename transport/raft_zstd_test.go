package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/network"
)

// pipeStream is one end of an in-memory pipe posing as a libp2p stream: zstdStream only reads and
// writes it.
type pipeStream struct {
	network.Stream
	c io.ReadWriter
}

func (p pipeStream) Read(b []byte) (int, error)  { return p.c.Read(b) }
func (p pipeStream) Write(b []byte) (int, error) { return p.c.Write(b) }

// countingConn counts the bytes written through it.
type countingConn struct {
	net.Conn
	n *int
}

func (c countingConn) Write(b []byte) (int, error) { *c.n += len(b); return c.Conn.Write(b) }

// recordLike is text shaped like raft entries of firearm records: repetitive field names, varied
// values, as msgpack would carry JSON records.
func recordLike(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	makes := []string{"Glock", "Beretta", "Smith & Wesson", "Heckler & Koch", "Sig Sauer", "CZ", "Walther"}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":"FR-20%02d-%06d","serial":"%c%c%07d","make":%q,"model":"M%d","calibre":"9x19mm","type":"pistol","status":"stolen","recording_country":"FR","reported_at":"2024-%02d-%02dT10:%02d:00Z"}`,
			rng.IntN(25), i, 'A'+rng.IntN(26), 'A'+rng.IntN(26), rng.IntN(1e7), makes[rng.IntN(len(makes))],
			rng.IntN(99), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(60))
	}
	return []byte(b.String()[:n])
}

// framePair is a zstdStream writer and reader joined by a pipe; wire counts the bytes between them.
func framePair(t *testing.T, bad func(error)) (w, r *zstdStream, wire *int) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	wire = new(int)
	var err error
	if w, err = newZstdStream(pipeStream{c: countingConn{Conn: a, n: wire}}, nil); err != nil {
		t.Fatal(err)
	}
	if r, err = newZstdStream(pipeStream{c: b}, bad); err != nil {
		t.Fatal(err)
	}
	return w, r, wire
}

func TestZstdFramesRoundTrip(t *testing.T) {
	records := recordLike(3<<20, 1)
	random := make([]byte, 600<<10)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	cases := []struct {
		name     string
		writes   [][]byte
		maxRatio float64 // wire bytes over plain bytes, at most
	}{
		{"one byte", [][]byte{{7}}, 3},
		{"a heartbeat", [][]byte{bytes.Repeat([]byte{0x82, 0xa1}, 40)}, 1.1},
		{"records in raft's 256 KiB writes", [][]byte{records[:256<<10], records[256<<10 : 512<<10], records[512<<10 : 600<<10]}, 0.35},
		{"records in one 3 MiB write", [][]byte{records}, 0.35},
		{"random bytes", [][]byte{random}, 1.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, r, wire := framePair(t, func(err error) { t.Errorf("honest frames refused: %v", err) })
			var want []byte
			for _, p := range c.writes {
				want = append(want, p...)
			}
			go func() {
				for _, p := range c.writes {
					if n, err := w.Write(p); err != nil || n != len(p) {
						t.Errorf("write: %d of %d, %v", n, len(p), err)
					}
				}
			}()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read back %d bytes differing from the %d written", len(got), len(want))
			}
			ratio := float64(*wire) / float64(len(want))
			t.Logf("%d bytes -> %d on the wire (%.1f%%)", len(want), *wire, 100*ratio)
			if ratio > c.maxRatio {
				t.Fatalf("%d bytes took %d on the wire (%.2f), want at most %.2f", len(want), *wire, ratio, c.maxRatio)
			}
		})
	}
}

// zstdFrame is a frame of kind zstd announcing size decoded bytes and carrying payload.
func zstdFrame(size int, payload []byte) []byte {
	b := binary.AppendUvarint([]byte{frameZstd}, uint64(size))
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func TestZstdFramesRefuseBombsAndBadFrames(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 64<<20)
	bomb := enc.EncodeAll(zeros, nil) // announces its 64 MiB in the zstd frame header
	var streamed bytes.Buffer         // no content size in the header: found out by decoding
	sw, _ := zstd.NewWriter(&streamed)
	sw.Write(zeros)
	sw.Close()
	short := enc.EncodeAll(bytes.Repeat([]byte("a"), 500), nil)
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"zstd bomb with its size in the header", zstdFrame(MaxRaftFrame, bomb)},
		{"zstd bomb without its size", zstdFrame(MaxRaftFrame, streamed.Bytes())},
		{"decoded length past the bound", append([]byte{frameRaw}, binary.AppendUvarint(nil, 1<<40)...)},
		{"decoded length just past the bound", append([]byte{frameRaw}, binary.AppendUvarint(nil, MaxRaftFrame+1)...)},
		{"decoded length zero", []byte{frameRaw, 0}},
		{"unknown kind", append([]byte{7, 10}, make([]byte, 10)...)},
		{"compressed no smaller than decoded", zstdFrame(len(short), short)},
		{"decodes short of its announcement", zstdFrame(1000, short)},
		{"not zstd", zstdFrame(1000, bytes.Repeat([]byte{0xab}, 100))},
	}
	if len(streamed.Bytes()) >= MaxRaftFrame || len(bomb) >= MaxRaftFrame {
		t.Fatalf("bombs of %d and %d bytes do not fit a frame", len(bomb), streamed.Len())
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var refused error
			z, err := newZstdStream(pipeStream{c: readOnly{bytes.NewReader(c.bytes)}}, func(err error) { refused = err })
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n, err := io.Copy(io.Discard, z)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errBadFrame) || refused == nil {
				t.Fatalf("read %d bytes, err %v, refusal %v: want a refused frame", n, err, refused)
			}
			if n > MaxRaftFrame {
				t.Fatalf("%d bytes reached raft from one bad frame", n)
			}
			// Two scratch buffers of one frame each, and the decoder's own; never the bomb's size.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Fatalf("reading the frame allocated %d bytes", grew)
			}
		})
	}

	t.Run("a stream cut inside a frame is not the peer's fault", func(t *testing.T) {
		frame := zstdFrame(1000, enc.EncodeAll(recordLike(1000, 2), nil))
		for _, cut := range []int{1, 2, 3, len(frame) - 1} {
			refused := false
			z, _ := newZstdStream(pipeStream{c: readOnly{bytes.NewReader(frame[:cut])}}, func(error) { refused = true })
			_, err := io.Copy(io.Discard, z)
			if !errors.Is(err, io.ErrUnexpectedEOF) || refused {
				t.Fatalf("cut after %d bytes: %v (refused %v), want io.ErrUnexpectedEOF and no refusal", cut, err, refused)
			}
		}
	})
}

// readOnly reads from r and cannot be written.
type readOnly struct{ r io.Reader }

func (c readOnly) Read(b []byte) (int, error) { return c.r.Read(b) }
func (readOnly) Write([]byte) (int, error)    { return 0, io.ErrClosedPipe }
