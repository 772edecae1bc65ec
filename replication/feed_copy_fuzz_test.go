package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
)

// A copy request of any bytes is read within bounds or refused.
func FuzzCopyRequest(f *testing.F) {
	q := FeedRequest{Kind: FeedCopyChunks, Shard: "europe", Resume: CopyResume{Session: 9, Offset: 1 << 16, Prefix: [32]byte{1}}}
	b, _ := q.MarshalBinary()
	f.Add(b)
	f.Add(b[:len(b)-5])
	q.Kind, q.summary = FeedCopyResume, []heldRange{{last: "FR-1"}}
	b, _ = q.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := readFeedRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if q.Kind != FeedCopyChunks && q.Kind != FeedCopyResume && q.Resume != (CopyResume{}) {
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

// A summary of any bytes is refused or read within bounds, keys strictly increasing, and reads back
// the same once written.
func FuzzCopySummary(f *testing.F) {
	rs := []heldRange{{last: "FR-0000015", sum: [16]byte{1}}, {last: "FR-0000031", sum: [16]byte{2}}, {last: "GB-1"}}
	f.Add(appendSummary(nil, rs))
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := readSummary(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil || rs == nil {
			return
		}
		if len(rs) > maxResumeRanges {
			t.Fatalf("%d ranges", len(rs))
		}
		prev := ""
		for _, r := range rs {
			if len(r.last) > maxResumeKey || r.last <= prev {
				t.Fatalf("key %q after %q", r.last, prev)
			}
			prev = r.last
		}
		again, err := readSummary(bufio.NewReader(bytes.NewReader(appendSummary(nil, rs))), nil)
		if err != nil || !reflect.DeepEqual(again, rs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// A diff of any bytes, against the records a holder holds, builds a snapshot stream of the count
// its header announces with keys in order, or is refused.
func FuzzCopyDiff(f *testing.F) {
	dir := f.TempDir()
	mk := func(name string, n int, change string) *State {
		s, err := openState(filepath.Join(dir, name), nil, true)
		if err != nil {
			f.Fatal(err)
		}
		var recs []record.Record
		for i := 0; i < n; i++ {
			recs = append(recs, rec(fmt.Sprintf("FR-%07d", i), "FR", fmt.Sprintf("S%d%s", i, change[:min(len(change), i%3)])))
		}
		res := Result{}
		cmd := &Command{Op: OpUpsert, Principal: Principal{Admin: true}, Records: recs}
		if _, err := s.applyBatch([]appliedEntry{{index: 1, term: 1, cmd: cmd, result: &res}}); err != nil {
			f.Fatal(err)
		}
		return s
	}
	a, b := mk("a.db", 40, ""), mk("b.db", 50, "xx")
	defer a.Close()
	defer b.Close()
	body := func(s *State, write func(*stateSnapshot, io.Writer) error) []byte {
		snap, err := s.snapshot()
		if err != nil {
			f.Fatal(err)
		}
		defer snap.Release()
		var w bytes.Buffer
		if err := write(snap, &w); err != nil {
			f.Fatal(err)
		}
		return w.Bytes()
	}
	cp := Checkpoint{Shard: "europe", Index: 1, Signer: "n0"}
	aBody := append(appendFeedEntries(nil, &cp, nil), body(a, (*stateSnapshot).write)...)
	hdir := filepath.Join(dir, "holder")
	p, err := createCopyPartial(hdir, "europe", nil, "a", 1, uint64(len(aBody)))
	if err != nil {
		f.Fatal(err)
	}
	p.append(aBody[:len(aBody)*9/10])
	p.close()
	base := openCopyPartial(hdir, "europe", nil)
	rs, err := heldSummary(base)
	if err != nil || rs == nil {
		f.Fatalf("summary: %v", err)
	}
	f.Add(body(b, func(s *stateSnapshot, w io.Writer) error { return s.writeDiff(w, rs) }))
	f.Add(body(a, func(s *stateSnapshot, w io.Writer) error { return s.writeDiff(w, rs) }))
	f.Fuzz(func(t *testing.T, diff []byte) {
		br := bufio.NewReader(bytes.NewReader(diff))
		dh, err := readDiffHeader(br)
		if err != nil || dh.ranges != uint64(len(rs)) {
			return
		}
		held, err := openHeldRecords(base)
		if err != nil || held == nil {
			t.Fatalf("held records: %v", err)
		}
		defer held.close()
		var out bytes.Buffer
		kept, sent, err := assembleDiff(&out, held, rs, br, dh)
		if err != nil {
			return
		}
		if kept+sent != dh.records {
			t.Fatalf("%d+%d records, %d announced", kept, sent, dh.records)
		}
		r := bufio.NewReader(&out)
		r.Discard(len(snapMagic))
		for range 3 {
			binary.ReadUvarint(r)
		}
		prev := ""
		var buf []byte
		for i := uint64(0); i < dh.records; i++ {
			_, id, err := readRecordOf(r, &buf)
			if err != nil || id <= prev {
				t.Fatalf("record %d: %q after %q: %v", i, id, prev, err)
			}
			prev = id
		}
	})
}
