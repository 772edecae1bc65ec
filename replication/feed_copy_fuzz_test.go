package replication

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A copy request of any bytes is read within bounds or refused.
func FuzzCopyRequest(f *testing.F) {
	q := FeedRequest{Kind: FeedCopyChunks, Shard: "europe", Resume: CopyResume{Session: 9, Offset: 1 << 16, Prefix: [32]byte{1}}}
	b, _ := q.MarshalBinary()
	f.Add(b)
	f.Add(b[:len(b)-5])
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := readFeedRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if q.Kind != FeedCopyChunks && q.Resume != (CopyResume{}) {
			t.Fatalf("a resume read for kind %d", q.Kind)
		}
		if q.Resume.Offset > maxFeedCopy {
			t.Fatalf("offset %d past the bound", q.Resume.Offset)
		}
	})
}

// A copy answer of any bytes yields chunks within bounds whose checksums hold, or an error.
func FuzzCopyAnswer(f *testing.F) {
	var body bytes.Buffer
	body.Write(copyHeader{session: 3, total: 70000}.appendWire(nil))
	cw := &chunkWriter{w: &body, buf: make([]byte, 0, copyChunk)}
	cw.Write(bytes.Repeat([]byte("record "), 10000))
	cw.flush()
	f.Add(body.Bytes())
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		h, err := readCopyHeader(r)
		if err != nil {
			return
		}
		buf := make([]byte, copyChunk)
		held := h.offset
		for held < h.total {
			data, err := readCopyChunk(r, int(min(h.total-held, copyChunk)), buf)
			if err != nil {
				return
			}
			if len(data) == 0 || uint64(len(data)) > h.total-held {
				t.Fatalf("chunk of %d bytes with %d left", len(data), h.total-held)
			}
			held += uint64(len(data))
		}
	})
}

// A partial file of any bytes opens to what its chunks prove, or not at all.
func FuzzCopyPartial(f *testing.F) {
	dir := f.TempDir()
	p, err := createCopyPartial(dir, "europe", nil, "n3", 5, 100)
	if err != nil {
		f.Fatal(err)
	}
	p.append(bytes.Repeat([]byte{7}, 60))
	p.close()
	good, _ := os.ReadFile(p.path)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		d := t.TempDir()
		path := partialCopyPath(d, 5, 100)
		os.MkdirAll(filepath.Dir(path), 0o700)
		os.WriteFile(path, b, 0o600)
		p := openCopyPartial(d, "europe", nil)
		if p == nil {
			return
		}
		defer p.close()
		if p.held > p.total {
			t.Fatalf("holds %d of %d", p.held, p.total)
		}
	})
}
