package replication

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fedarms/fedarms/internal/record"
)

// A copy cut part way resumes from another source (request kind FeedCopyResume). Each source's
// copy is of its own state at its own index, so the bytes held from the first source are not a
// prefix of the second's body; but the records are in key order in both, and most of them are the
// same. The asker sends a summary of the records it holds whole, and the source answers with what
// differs, in chunks, as a copy in chunks is (feed_copy_wire.go: same header, chunks, spool and
// resumed at an offset):
//
//	request, after kind 4's fields: uvarint len | summary of len bytes (at most maxResumeSummary):
//	         uvarint ranges (1..maxResumeRanges) | per range: uvarint shared | uvarint len, suffix
//	         | 16-byte sum
//	answer body: checkpoint | uvarint count | entries (as a copy's) | "FEDDIFF1" | uvarint applied
//	         index | uvarint applied term | uvarint records | 32-byte digest | 32-byte SHA-256 of the
//	         summary asked | uvarint ranges | per range: byte 0 (the same records) or byte 1 then the
//	         source's records of the range, each uvarint len | record, ended by uvarint 0 | then the
//	         source's records after the last range, ended by uvarint 0
//
// A range is named by its last key (front-coded on the previous range's: keys in order share long
// prefixes) and covers every key after the previous range's last key up to its own, so the ranges
// tile the key space up to the last key held and a record the source added or deleted inside the
// held part falls in exactly one range. Its sum is SHA-256, cut to 16 bytes, over its records as
// the snapshot stream carries them (uvarint len | record binary). The sums only find what differs
// between two honest copies: what the asker builds is verified against the signed checkpoint, so a
// source that claims a range is the same when it is not is refused at the end like any forged copy.
const (
	// resumeRangeRecords is the records per range (more when the held part has more than
	// maxResumeRanges of them): a changed record costs its range sent again.
	resumeRangeRecords = 16
	maxResumeRanges    = 1 << 18
	maxResumeKey       = 256
	maxResumeSummary   = 8 << 20
	resumeSumSize      = 16
)

var diffMagic = []byte("FEDDIFF1")

// A summary can be megabytes, longer to arrive on a thin link than a request's read deadline (the
// node gives 10 s): a server extends the deadline by the summary's length at summaryRate, the
// lowest replication cap a node accepts (config.MinBandwidth), plus summaryGrace.
const (
	summaryRate  = 4000 // bytes per second
	summaryGrace = 10 * time.Second
)

// summaryDeadline extends rw's read deadline, when it has one, for a summary of n bytes.
func summaryDeadline(rw any) func(n uint64) {
	d, ok := rw.(interface{ SetReadDeadline(time.Time) error })
	if !ok {
		return nil
	}
	return func(n uint64) {
		_ = d.SetReadDeadline(time.Now().Add(summaryGrace + time.Duration(n)*time.Second/summaryRate))
	}
}

// heldRange is one range of the records an asker holds.
type heldRange struct {
	last string // the range's last key
	sum  [resumeSumSize]byte
	n    int // records in it (the asker's own; not on the wire)
}

// rangeSum sums records as a range's sum does, one record at a time.
type rangeSum struct {
	h   interface{ Write([]byte) (int, error) }
	len []byte
}

func newRangeSum() *rangeSum { return &rangeSum{h: sha256.New()} }

func (s *rangeSum) add(rec []byte) {
	s.len = binary.AppendUvarint(s.len[:0], uint64(len(rec)))
	_, _ = s.h.Write(s.len)
	_, _ = s.h.Write(rec)
}

func (s *rangeSum) sum() (out [resumeSumSize]byte) {
	full := s.h.(interface{ Sum([]byte) []byte }).Sum(nil)
	copy(out[:], full)
	s.h.(interface{ Reset() }).Reset()
	return out
}

func sharedPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// appendSummary encodes a summary (its length first), canonically: the longest shared prefix.
func appendSummary(b []byte, rs []heldRange) []byte {
	body := binary.AppendUvarint(nil, uint64(len(rs)))
	prev := ""
	for _, r := range rs {
		sh := sharedPrefix(prev, r.last)
		body = binary.AppendUvarint(body, uint64(sh))
		body = appendFeedString(body, r.last[sh:])
		body = append(body, r.sum[:]...)
		prev = r.last
	}
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// summaryHash is what a source echoes of the summary it answered.
func summaryHash(rs []heldRange) [sha256.Size]byte { return sha256.Sum256(appendSummary(nil, rs)) }

// readSummary reads a summary, refusing what is out of bounds: its length, the count of ranges,
// keys that are long, empty or not strictly increasing, bytes left over. A length of 0 is no
// summary (an asker resuming a diff it began).
// sized, when set, is told the summary's length once it is known to be within its bound.
func readSummary(r *bufio.Reader, sized func(n uint64)) ([]heldRange, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	if n > maxResumeSummary {
		return nil, fmt.Errorf("summary of %d bytes", n)
	}
	if sized != nil {
		sized(n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	br := bytes.NewReader(b)
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	// Each range takes at least 18 bytes: the count cannot outrun the bytes read.
	if count == 0 || count > maxResumeRanges || count > n/(resumeSumSize+2) {
		return nil, fmt.Errorf("summary of %d ranges", count)
	}
	rs := make([]heldRange, 0, count)
	prev := ""
	for i := uint64(0); i < count; i++ {
		sh, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("summary range %d: %w", i, err)
		}
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("summary range %d: %w", i, err)
		}
		if sh > uint64(len(prev)) || l > maxResumeKey || sh+l > maxResumeKey || l > uint64(br.Len()) {
			return nil, fmt.Errorf("summary range %d: key of %d+%d bytes", i, sh, l)
		}
		suffix := make([]byte, l)
		_, _ = br.Read(suffix)
		key := prev[:sh] + string(suffix)
		if key <= prev { // strictly increasing, and never empty
			return nil, fmt.Errorf("summary range %d: key %q does not follow %q", i, key, prev)
		}
		var r heldRange
		r.last = key
		if _, err := io.ReadFull(br, r.sum[:]); err != nil {
			return nil, fmt.Errorf("summary range %d: %w", i, err)
		}
		rs = append(rs, r)
		prev = key
	}
	if br.Len() != 0 {
		return nil, errors.New("summary: bytes after the last range")
	}
	return rs, nil
}

// writeDiff writes the diff part of a FeedCopyResume body from the snapshot: for each range of the
// summary, 0 when the source's records in it sum the same, else 1 and its records; then the records
// after the last range.
func (p *stateSnapshot) writeDiff(w io.Writer, rs []heldRange) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := append([]byte(nil), diffMagic...)
	hdr = binary.AppendUvarint(hdr, p.st.AppliedIndex)
	hdr = binary.AppendUvarint(hdr, p.st.AppliedTerm)
	hdr = binary.AppendUvarint(hdr, p.st.Records)
	for _, v := range p.st.Digest {
		hdr = binary.BigEndian.AppendUint64(hdr, v)
	}
	asked := summaryHash(rs)
	hdr = append(hdr, asked[:]...)
	hdr = binary.AppendUvarint(hdr, uint64(len(rs)))
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	recs := records{b: p.tx.Bucket(bucketRecords), key: p.key}
	c := recs.b.Cursor()
	var lenBuf []byte
	emit := func(k, v []byte) error {
		plain, err := recs.open(k, v)
		if err != nil {
			return err
		}
		lenBuf = binary.AppendUvarint(lenBuf[:0], uint64(len(plain)))
		if _, err := bw.Write(lenBuf); err != nil {
			return err
		}
		_, err = bw.Write(plain)
		return err
	}
	end := func() error { return bw.WriteByte(0) } // uvarint 0
	sum := newRangeSum()
	k, v := c.First()
	for _, r := range rs {
		last := []byte(r.last)
		start := k
		if start != nil {
			start = append([]byte(nil), start...)
		}
		for ; k != nil && bytes.Compare(k, last) <= 0; k, v = c.Next() {
			plain, err := recs.open(k, v)
			if err != nil {
				return err
			}
			sum.add(plain)
		}
		if sum.sum() == r.sum {
			if err := bw.WriteByte(0); err != nil {
				return err
			}
			continue
		}
		if err := bw.WriteByte(1); err != nil {
			return err
		}
		if start != nil { // the range again, sent this time; the cursor ends where it was
			for k, v = c.Seek(start); k != nil && bytes.Compare(k, last) <= 0; k, v = c.Next() {
				if err := emit(k, v); err != nil {
					return err
				}
			}
		}
		if err := end(); err != nil {
			return err
		}
	}
	for ; k != nil; k, v = c.Next() {
		if err := emit(k, v); err != nil {
			return err
		}
	}
	if err := end(); err != nil {
		return err
	}
	return bw.Flush()
}

// diffHeader opens the diff part of a FeedCopyResume body.
type diffHeader struct {
	index, term, records uint64
	digest               [32]byte
	asked                [sha256.Size]byte
	ranges               uint64
}

func readDiffHeader(r *bufio.Reader) (diffHeader, error) {
	var h diffHeader
	magic := make([]byte, len(diffMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return h, fmt.Errorf("diff: %w", err)
	}
	if !bytes.Equal(magic, diffMagic) {
		return h, errors.New("diff: not a fedarms diff")
	}
	for _, p := range []*uint64{&h.index, &h.term, &h.records} {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return h, fmt.Errorf("diff header: %w", err)
		}
		*p = v
	}
	if _, err := io.ReadFull(r, h.digest[:]); err != nil {
		return h, fmt.Errorf("diff header: %w", err)
	}
	if _, err := io.ReadFull(r, h.asked[:]); err != nil {
		return h, fmt.Errorf("diff header: %w", err)
	}
	var err error
	if h.ranges, err = binary.ReadUvarint(r); err != nil {
		return h, fmt.Errorf("diff header: %w", err)
	}
	return h, nil
}

// heldRecords reads the records a partial copy holds whole, in order: a FEDSNAP1 stream after the
// checkpoint and entries, cut anywhere. It ends at the first record that is not whole, not a
// record, or out of order.
type heldRecords struct {
	r     io.Reader
	br    *bufio.Reader
	left  uint64 // records the snapshot's header announces, not yet read
	prev  string
	buf   []byte
	ended bool
}

// openHeldRecords opens the records of a partial copy; nil when it holds none whole (cut in the
// entries or the snapshot's header).
func openHeldRecords(p *copyPartial) (*heldRecords, error) {
	r, err := p.body()
	if err != nil {
		return nil, err
	}
	h := &heldRecords{r: r, br: bufio.NewReaderSize(r, 1<<16)}
	if _, _, err := readFeedEntries(h.br, 0, false); err != nil {
		h.close()
		return nil, nil
	}
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(h.br, magic); err != nil || !bytes.Equal(magic, snapMagic) {
		h.close()
		return nil, nil
	}
	var hdr [3]uint64
	for i := range hdr {
		if hdr[i], err = binary.ReadUvarint(h.br); err != nil {
			h.close()
			return nil, nil
		}
	}
	h.left = hdr[2]
	return h, nil
}

func (h *heldRecords) close() {
	if c, ok := h.r.(io.Closer); ok {
		c.Close()
	}
}

// next returns the next record held whole and its id (the record is valid until the next call).
func (h *heldRecords) next() ([]byte, string, bool) {
	if h.ended || h.left == 0 {
		return nil, "", false
	}
	rec, id, err := readRecordOf(h.br, &h.buf)
	if err != nil || id <= h.prev || len(id) > maxResumeKey {
		h.ended = true
		return nil, "", false
	}
	h.prev = id
	h.left--
	return rec, id, true
}

// readRecordOf reads one uvarint len | record into buf, as a snapshot stream carries it; a len of 0
// is io.EOF (a diff's end of records).
func readRecordOf(r *bufio.Reader, buf *[]byte) ([]byte, string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, "", err
	}
	if n == 0 {
		return nil, "", io.EOF
	}
	if n > 1<<20 {
		return nil, "", fmt.Errorf("record of %d bytes", n)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, "", err
	}
	id, err := record.IDOf(b)
	if err != nil {
		return nil, "", err
	}
	return b, id, nil
}

// heldSummary sums the records p holds whole, in ranges: resumeRangeRecords each, more when there
// are many, so the summary stays within its bounds. Nil when p holds no record whole.
func heldSummary(p *copyPartial) ([]heldRange, error) {
	count := 0
	if err := forHeld(p, func([]byte, string) { count++ }); err != nil || count == 0 {
		return nil, err
	}
	per := max(resumeRangeRecords, (count+maxResumeRanges-1)/maxResumeRanges)
	for {
		var rs []heldRange
		sum := newRangeSum()
		cur := heldRange{}
		err := forHeld(p, func(rec []byte, id string) {
			sum.add(rec)
			cur.n++
			cur.last = id
			if cur.n == per {
				cur.sum = sum.sum()
				rs = append(rs, cur)
				cur = heldRange{}
			}
		})
		if err != nil {
			return nil, err
		}
		if cur.n > 0 {
			cur.sum = sum.sum()
			rs = append(rs, cur)
		}
		if len(appendSummary(nil, rs)) <= maxResumeSummary {
			return rs, nil
		}
		per *= 2 // long keys: fewer ranges
	}
}

func forHeld(p *copyPartial, fn func(rec []byte, id string)) error {
	h, err := openHeldRecords(p)
	if err != nil || h == nil {
		return err
	}
	defer h.close()
	for {
		rec, id, ok := h.next()
		if !ok {
			return nil
		}
		fn(rec, id)
	}
}

// errHeldChanged: the records held no longer read as they did when summed (not the source's fault).
var errHeldChanged = errors.New("the records held read otherwise than when summed")

// assembleDiff writes the FEDSNAP1 stream of the source's state from the records held (held, in
// rs's ranges) and the diff after its header: a range the source says is the same is taken from
// held, one it sends is taken from it, then the records after the last range. Anything in the diff
// out of its range, out of order, or that does not add up to the header's count is an error (the
// source's); the stream is verified again whole by its reader.
func assembleDiff(w io.Writer, held *heldRecords, rs []heldRange, diff *bufio.Reader, dh diffHeader) (kept, sent uint64, err error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	hdr := append([]byte(nil), snapMagic...)
	hdr = binary.AppendUvarint(hdr, dh.index)
	hdr = binary.AppendUvarint(hdr, dh.term)
	hdr = binary.AppendUvarint(hdr, dh.records)
	if _, err := bw.Write(hdr); err != nil {
		return 0, 0, err
	}
	var lenBuf, buf []byte
	put := func(rec []byte) error {
		if kept+sent >= dh.records {
			return fmt.Errorf("diff: more records than the %d announced", dh.records)
		}
		lenBuf = binary.AppendUvarint(lenBuf[:0], uint64(len(rec)))
		if _, err := bw.Write(lenBuf); err != nil {
			return err
		}
		_, err := bw.Write(rec)
		return err
	}
	// sentUpTo copies the source's records, each after prev and at most last ("" : no bound).
	sentUpTo := func(prev, last string, first bool) error {
		for {
			rec, id, err := readRecordOf(diff, &buf)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("diff record: %w", err)
			}
			if (!first && id <= prev) || (last != "" && id > last) {
				return fmt.Errorf("diff record %q out of its range (%q, %q]", id, prev, last)
			}
			prev, first = id, false
			if err := put(rec); err != nil {
				return err
			}
			sent++
		}
	}
	lower := ""
	for i, r := range rs {
		flag, err := diff.ReadByte()
		if err != nil {
			return kept, sent, fmt.Errorf("diff range %d: %w", i, err)
		}
		switch flag {
		case 0:
			for range r.n {
				rec, _, ok := held.next()
				if !ok {
					return kept, sent, errHeldChanged
				}
				if err := put(rec); err != nil {
					return kept, sent, err
				}
				kept++
			}
		case 1:
			for range r.n {
				if _, _, ok := held.next(); !ok {
					return kept, sent, errHeldChanged
				}
			}
			if err := sentUpTo(lower, r.last, i == 0); err != nil {
				return kept, sent, err
			}
		default:
			return kept, sent, fmt.Errorf("diff range %d: flag %d", i, flag)
		}
		lower = r.last
	}
	if err := sentUpTo(lower, "", false); err != nil {
		return kept, sent, err
	}
	if _, err := diff.ReadByte(); err != io.EOF {
		return kept, sent, errors.New("diff: data after the last record")
	}
	if kept+sent != dh.records {
		return kept, sent, fmt.Errorf("diff: %d records, %d announced", kept+sent, dh.records)
	}
	if _, err := bw.Write(dh.digest[:]); err != nil {
		return kept, sent, err
	}
	return kept, sent, bw.Flush()
}
