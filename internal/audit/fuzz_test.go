package audit

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for what the audit log reads back from the disk: the journal a crash leaves behind
// (read by recovery at the next start and by `fedarms audit verify --data`) and the entries stored
// in node.db (read by the verifier). scripts/fuzz.sh runs them for longer.

// fuzzChain seals n entries after the empty head and returns their stored values.
func fuzzChain(n int) [][]byte {
	var values [][]byte
	prev := head{}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		e, v, err := seal(Entry{Agency: "FR-PAF", Action: ActionSearch, Query: []byte(`{"serial":"BXK 0123"}`),
			ResultIDs: []string{"FR-1"}, Outcome: OutcomeOK}, prev, at.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			panic(err)
		}
		values = append(values, v)
		prev = head{Seq: e.Seq, Hash: e.Hash}
	}
	return values
}

// journalFrame is one frame as the journal writes it.
func journalFrame(values ...[]byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, uint32(len(values)))
	for _, v := range values {
		body = binary.LittleEndian.AppendUint32(body, uint32(len(v)))
		body = append(body, v...)
	}
	f := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	f = binary.LittleEndian.AppendUint32(f, crc32.Checksum(body, castagnoli))
	return append(f, body...)
}

func journalOf(frames ...[]byte) []byte {
	b := append([]byte(nil), journalMagic...)
	for _, f := range frames {
		b = append(b, f...)
	}
	return b
}

// FuzzAuditJournal reads arbitrary bytes as the journal a crash left. Recovery never panics and
// what it would fold into node.db is a chain: entries 1, 2, 3... each hashing to its hash and
// linking to the one before.
func FuzzAuditJournal(f *testing.F) {
	vs := fuzzChain(4)
	f.Add(journalOf(journalFrame(vs[0], vs[1]), journalFrame(vs[2]), journalFrame(vs[3])))
	f.Add(journalOf(journalFrame(vs[0]), make([]byte, 64), journalFrame(vs[1]))) // preallocated zeros between frames
	torn := journalFrame(vs[2], vs[3])
	f.Add(journalOf(journalFrame(vs[0], vs[1]), torn[:len(torn)-7])) // a torn last frame
	f.Add(journalOf(journalFrame(vs[1])))                            // does not follow the head
	f.Add(journalOf([]byte{0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0}))     // a frame length of 256 MiB
	f.Add(journalOf(journalFrame([]byte(`{"seq":1,"hash":""}`))))
	f.Add([]byte("not a journal"))
	f.Fuzz(func(t *testing.T, data []byte) {
		live, err := journaled(data, head{}, nil)
		if err != nil {
			return
		}
		prev := head{}
		for i, s := range live {
			if s.seq != uint64(i+1) || s.prev != prev.Hash {
				t.Fatalf("entry %d of the recovered chain is seq %d after %q", i, s.seq, s.prev)
			}
			e, err := decodeEntry(s.value)
			if err != nil || e.Seq != s.seq || e.Hash != s.hash {
				t.Fatalf("recovered entry %d does not read back: %+v, %v", s.seq, e, err)
			}
			prev = head{Seq: s.seq, Hash: s.hash}
		}
	})
}

// FuzzAuditEntry reads arbitrary bytes as an entry stored in node.db, the way the verifier does.
// It never panics, and a value the verifier finds intact is an entry whose hash covers its bytes.
func FuzzAuditEntry(f *testing.F) {
	for _, v := range fuzzChain(2) {
		f.Add(v)
	}
	v := fuzzChain(1)[0]
	f.Add([]byte(strings.Replace(string(v), "FR-PAF", "FR-PAX", 1))) // changed after it was hashed
	f.Add([]byte(`{"seq":1,"query":{"a":[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]},"hash":"x"}`))
	f.Add([]byte(`{"seq":1,"time":"10000-01-01T00:00:00Z","hash":""}`))
	f.Add([]byte(`"hash":""}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		var w walker
		if err := w.visit(seqKey(1), v); err != nil {
			t.Fatalf("the verifier failed instead of reporting: %v", err)
		}
		if w.report.Entries != 1 {
			t.Fatalf("one value counted as %d entries", w.report.Entries)
		}
		if len(w.report.Problems) > 0 {
			return
		}
		e, err := decodeEntry(v)
		if err != nil {
			t.Fatalf("an intact entry does not decode: %v", err)
		}
		canon, ok := canonicalOf(v, e.Hash)
		if !ok || chainHash(e.PrevHash, canon) != e.Hash || e.Seq != 1 {
			t.Fatalf("an entry reported intact is not: %s", v)
		}
	})
}
