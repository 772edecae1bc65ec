package audit

import (
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"
)

// A chain's head can be rewritten consistently by whoever holds the file: cut the last entries and
// move the head, or change an old entry and seal every later one again. What the node told others
// about its chain earlier cannot be rewritten that way. An Anchor is such a published head: the
// node signs its head every minute and the central nodes keep it (node/anchor.go); a verification
// against anchors requires, for each of them, the entry at the anchored seq to exist and to carry
// the anchored hash. Since each hash covers every entry before it, one anchor vouches for the whole
// chain up to its seq.

// Kinds of Problem that a verification against anchors adds.
const (
	// KindAnchorCut: the chain ends before an anchored seq, so entries the node once had are gone.
	KindAnchorCut = "anchor_cut"
	// KindAnchorMismatch: the entry at an anchored seq has another hash than the one anchored, so
	// it or an entry before it was rewritten and the chain sealed again.
	KindAnchorMismatch = "anchor_mismatch"
	// KindAnchorsUnavailable: the anchors could not be fetched, so the chain was checked alone.
	KindAnchorsUnavailable = "anchors_unavailable"
)

// Anchor is a head of a node's chain as published outside the node: the entry seq had hash then,
// at Time.
type Anchor struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
}

// Head is the chain's last entry as recorded (zero on an empty chain), after folding the journal
// so that it covers every acknowledged entry. It is what the node anchors.
func (l *Log) Head() (Anchor, error) {
	if err := l.settle(); err != nil {
		return Anchor{}, fmt.Errorf("audit head: %w", err)
	}
	var h head
	err := l.db.View(func(tx *bbolt.Tx) error {
		var err error
		h, _, err = readHead(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		return Anchor{}, fmt.Errorf("audit head: %w", err)
	}
	return Anchor{Seq: h.Seq, Hash: h.Hash}, nil
}

// VerifyAnchored is Verify that also checks the chain against anchors (see Anchor); the report
// counts them in Anchors.
func (l *Log) VerifyAnchored(anchors []Anchor) (Report, error) {
	if err := l.settle(); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	w := walker{anchors: anchorsBySeq(anchors), key: l.key}
	if err := l.db.View(w.walk); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	w.checkAnchorsCut()
	return w.report, nil
}

// VerifyWithJournalAnchored is VerifyWithJournal that also checks the chain, journal included,
// against anchors.
func VerifyWithJournalAnchored(db *bbolt.DB, path string, anchors []Anchor) (Report, error) {
	w := walker{anchors: anchorsBySeq(anchors)}
	if err := w.walkWithJournal(db, path); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	w.checkAnchorsCut()
	return w.report, nil
}

func anchorsBySeq(anchors []Anchor) map[uint64][]Anchor {
	m := make(map[uint64][]Anchor, len(anchors))
	for _, a := range anchors {
		if a.Seq == 0 {
			continue // an empty chain's head vouches for nothing
		}
		m[a.Seq] = append(m[a.Seq], a)
	}
	return m
}

// checkAnchor compares the entry at seq, whose stored hash is hash, with the anchors at seq.
func (w *walker) checkAnchor(seq uint64, hash string) {
	for _, a := range w.anchors[seq] {
		w.report.Anchors++
		if p := CheckAnchor(a, hash, true, 0); p != nil {
			w.report.Problems = append(w.report.Problems, *p)
		}
	}
	delete(w.anchors, seq)
}

// checkAnchorsCut reports the anchors beyond the chain's end, which the walk never reached.
func (w *walker) checkAnchorsCut() {
	seqs := make([]uint64, 0, len(w.anchors))
	for s := range w.anchors {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		for _, a := range w.anchors[s] {
			w.report.Anchors++
			w.report.Problems = append(w.report.Problems, *CheckAnchor(a, "", false, w.lastSeq))
		}
	}
	w.anchors = nil
}

// CheckAnchor compares anchor a with the chain: found says whether an entry exists at a.Seq and
// hash is its stored hash; lastSeq is the chain's last seq, named when the entry is missing. It
// returns nil when they agree. A verifier reading entries one by one (over the API) uses it as
// the walk does.
func CheckAnchor(a Anchor, hash string, found bool, lastSeq uint64) *Problem {
	at := a.Time.UTC().Format(time.RFC3339)
	switch {
	case !found:
		return &Problem{Seq: a.Seq, Kind: KindAnchorCut, Detail: fmt.Sprintf(
			"anchored at %s with hash %s, but the chain has no entry %d (it ends at %d): entries were cut", at, a.Hash, a.Seq, lastSeq)}
	case hash != a.Hash:
		return &Problem{Seq: a.Seq, Kind: KindAnchorMismatch, Detail: fmt.Sprintf(
			"anchored at %s with hash %s, the entry now has %s: it or an entry before it was rewritten", at, a.Hash, hash)}
	}
	return nil
}
