package audit

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
)

// Kinds of Problem that Verify reports.
const (
	// KindChanged: the entry's bytes no longer hash to its stored hash, or cannot be decoded.
	KindChanged = "changed"
	// KindMissing: sequence numbers are skipped, so entries were removed.
	KindMissing = "missing"
	// KindOutOfOrder: an entry sits under a key that is not its own sequence number.
	KindOutOfOrder = "out_of_order"
	// KindBadLink: an entry's prev_hash is not its predecessor's hash.
	KindBadLink = "bad_link"
	// KindHeadMismatch: the recorded head is not the last entry, so the tail was cut or replaced.
	KindHeadMismatch = "head_mismatch"
	// KindJournal: a stopped node's journal holds entries that do not continue the chain.
	KindJournal = "journal"
)

// Report is the outcome of Verify; the chain is intact when Problems is empty.
type Report struct {
	Entries uint64 `json:"entries"`
	Head    string `json:"head"`
	// Journaled counts the entries, among Entries, found only in a stopped node's journal
	// (VerifyWithJournal): acknowledged, and folded into node.db when the node starts again.
	Journaled uint64 `json:"journaled,omitempty"`
	// Anchors counts the published heads the chain was checked against (VerifyAnchored).
	Anchors  int       `json:"anchors,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one break in the chain, located by sequence number.
type Problem struct {
	Seq    uint64 `json:"seq"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// OK reports whether the chain is intact.
func (r Report) OK() bool {
	return len(r.Problems) == 0
}

// Verify walks the whole chain and reports every problem it finds rather than stopping at the
// first. With a journal it first has the writer fold it, so the report covers every acknowledged
// entry; never call it inside a write transaction on the log's file. A stopped node's files are
// checked with VerifyWithJournal.
func (l *Log) Verify() (Report, error) {
	if err := l.settle(); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	w := walker{key: l.key}
	if err := l.db.View(w.walk); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	return w.report, nil
}

// VerifyWithJournal is Verify for a stopped node's files, read without starting a log: the chain in
// node.db (which may be opened read-only), continued by the entries that only the journal at path
// holds (see ReadJournal). A journal that does not continue the chain is reported as a problem of
// kind KindJournal; a missing one, or an empty path, holds nothing. It folds nothing: on the file of
// a running log use Log.Verify.
func VerifyWithJournal(db *bbolt.DB, path string) (Report, error) {
	var w walker
	if err := w.walkWithJournal(db, path); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	return w.report, nil
}

// walkWithJournal walks the chain in db continued by the journal at path.
func (w *walker) walkWithJournal(db *bbolt.DB, path string) error {
	data, err := readJournalFile(path)
	if err != nil {
		return err
	}
	// One transaction for the chain and the journal's starting point, so that both see one head.
	return db.View(func(tx *bbolt.Tx) error {
		if err := w.walk(tx); err != nil {
			return err
		}
		live, err := journaledAfterHead(tx, data, w.key)
		if errors.Is(err, ErrJournalDamaged) {
			w.problem(w.lastSeq+1, KindJournal, "%v", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read audit journal %s: %w", path, err)
		}
		for _, s := range live {
			if err := w.visit(seqKey(s.seq), s.value); err != nil {
				return err
			}
			w.report.Journaled++
		}
		return nil
	})
}

// walk visits every entry in node.db and checks the recorded head.
func (w *walker) walk(tx *bbolt.Tx) error {
	if b := tx.Bucket(bucketEntries); b != nil {
		if err := b.ForEach(w.visit); err != nil {
			return err
		}
	}
	return w.checkHead(tx.Bucket(bucketMeta))
}

// walker carries what one entry needs to know about the one before it.
type walker struct {
	report   Report
	lastSeq  uint64
	lastHash string
	linked   bool                // lastHash is trustworthy for checking the next prev_hash
	anchors  map[uint64][]Anchor // published heads not reached yet, by seq
	key      *atrest.Key         // opens sealed entries (nil: a plain dir)
}

func (w *walker) problem(seq uint64, kind, format string, args ...any) {
	w.report.Problems = append(w.report.Problems, Problem{Seq: seq, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

func (w *walker) visit(k, v []byte) error {
	w.report.Entries++
	if len(k) != 8 {
		w.problem(w.lastSeq, KindOutOfOrder, "key %x after entry %d is not a sequence number", k, w.lastSeq)
		w.linked = false
		return nil
	}
	seq := binary.BigEndian.Uint64(k)
	linked := w.linked || seq == 1
	if want := w.lastSeq + 1; seq != want {
		w.problem(want, KindMissing, "entries %d to %d are absent", want, seq-1)
		linked = false
	}
	w.lastSeq = seq
	v, err := openValue(w.key, k, v)
	if err != nil {
		w.problem(seq, KindChanged, "%v", err)
		w.linked = false
		return nil
	}
	e, err := decodeEntry(v)
	if err != nil {
		w.problem(seq, KindChanged, "%v", err)
		w.linked = false
		return nil
	}
	if e.Seq != seq {
		w.problem(seq, KindOutOfOrder, "entry under key %d says seq %d", seq, e.Seq)
	}
	if canon, ok := canonicalOf(v, e.Hash); !ok {
		w.problem(seq, KindChanged, "stored bytes do not end with the hash member")
	} else if got := chainHash(e.PrevHash, canon); got != e.Hash {
		w.problem(seq, KindChanged, "content hashes to %s, entry says %s", got, e.Hash)
	}
	if linked && e.PrevHash != w.lastHash {
		w.problem(seq, KindBadLink, "prev_hash %s, entry %d has hash %s", e.PrevHash, seq-1, w.lastHash)
	}
	if w.anchors != nil {
		w.checkAnchor(seq, e.Hash)
	}
	w.lastHash = e.Hash
	w.linked = true
	w.report.Head = e.Hash
	return nil
}

// checkHead catches a removed tail, which leaves every remaining link intact.
func (w *walker) checkHead(meta *bbolt.Bucket) error {
	h, found, err := readHead(meta)
	if err != nil {
		w.problem(w.lastSeq, KindHeadMismatch, "%v", err)
		return nil
	}
	switch {
	case !found && w.report.Entries == 0:
	case !found:
		w.problem(w.lastSeq, KindHeadMismatch, "no head recorded but %d entries present", w.report.Entries)
	case h.Seq != w.lastSeq:
		w.problem(h.Seq, KindHeadMismatch, "head says entry %d, last entry present is %d", h.Seq, w.lastSeq)
	case h.Hash != w.lastHash:
		w.problem(h.Seq, KindHeadMismatch, "head hash %s, last entry has %s", h.Hash, w.lastHash)
	}
	return nil
}
