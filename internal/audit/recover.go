package audit

import (
	"errors"
	"fmt"
	"os"

	"go.etcd.io/bbolt"

	atrest "github.com/fedarms/fedarms/internal/seal"
)

// ErrJournalDamaged is returned when a journal holds entries that node.db does not and that do not
// continue its chain: acknowledged entries would be lost or forked, so Open refuses to go on.
var ErrJournalDamaged = errors.New("audit journal does not continue the chain in node.db")

// openJournal recovers what the journal holds (see recoverJournal), then starts it afresh.
func (l *Log) openJournal(opts Options) error {
	l.foldEntries, l.foldInterval = opts.FoldEntries, opts.FoldInterval
	if l.foldEntries <= 0 {
		l.foldEntries = DefaultFoldEntries
	}
	if l.foldInterval <= 0 {
		l.foldInterval = DefaultFoldInterval
	}
	chunk := opts.JournalChunk
	if chunk <= 0 {
		chunk = DefaultJournalChunk
	}
	j, data, err := openJournal(opts.Journal, chunk)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		j.f.Close()
		return err
	}
	if err := l.recoverJournal(opts.Journal, data); err != nil {
		return fail(err)
	}
	// Everything the journal held is durable in node.db now (bbolt synced the commit), so it may
	// be emptied; a crash before this point only makes the next Open find those entries folded.
	if err := l.dbSynced(); err != nil {
		return fail(err)
	}
	if err := j.reset(); err != nil {
		return fail(err)
	}
	err = l.db.View(func(tx *bbolt.Tx) error {
		l.head, _, err = readHead(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		return fail(err)
	}
	l.j = j
	return nil
}

// recoverJournal claims node.db for the journal at path (see claimFile), then folds into node.db,
// in the same transaction, the journaled entries it does not hold: those after its head, each
// chaining from the one before. A torn last frame is a batch whose sync never returned, so never
// acknowledged, and is ignored.
func (l *Log) recoverJournal(path string, data []byte) error {
	return l.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := claimFile(meta, l.db.Path(), path); err != nil {
			return err
		}
		h, _, err := readHead(meta)
		if err != nil {
			return err
		}
		live, err := journaled(data, h, l.key)
		if err != nil || len(live) == 0 {
			return err
		}
		entries := appendOnly(tx.Bucket(bucketEntries))
		for _, s := range live {
			if err := entries.Put(seqKey(s.seq), s.value); err != nil {
				return fmt.Errorf("recover journaled entry %d: %w", s.seq, err)
			}
		}
		last := live[len(live)-1]
		return writeHead(meta, head{Seq: last.seq, Hash: last.hash})
	})
}

// journaled returns the entries of a journal that come after h, checked: the first follows h, each
// follows the one before and hashes to its own hash. Entries at or below h are already in node.db
// (folded, or leftovers of frames the writer has since overwritten) and are skipped.
func journaled(data []byte, h head, key *atrest.Key) ([]sealedEntry, error) {
	frames, bad, err := scanJournal(data)
	if err != nil {
		return nil, err
	}
	var live []sealedEntry
	last := h
	for _, f := range frames {
		for _, sv := range f.values {
			v, err := openValue(key, nil, sv)
			if err != nil {
				return nil, fmt.Errorf("%w: frame at offset %d: %w", ErrJournalDamaged, f.off, err)
			}
			e, err := decodeEntry(v)
			if err != nil {
				return nil, fmt.Errorf("%w: frame at offset %d: %w", ErrJournalDamaged, f.off, err)
			}
			if e.Seq <= h.Seq {
				continue
			}
			if e.Seq != last.Seq+1 || e.PrevHash != last.Hash {
				return nil, fmt.Errorf("%w: entry %d (frame at offset %d) does not follow entry %d%s",
					ErrJournalDamaged, e.Seq, f.off, last.Seq, damageBefore(bad, f.off))
			}
			if canon, ok := canonicalOf(v, e.Hash); !ok || chainHash(e.PrevHash, canon) != e.Hash {
				return nil, fmt.Errorf("%w: entry %d (frame at offset %d) does not hash to its hash", ErrJournalDamaged, e.Seq, f.off)
			}
			live = append(live, sealedEntry{seq: e.Seq, prev: e.PrevHash, hash: e.Hash, value: sv})
			last = head{Seq: e.Seq, Hash: e.Hash}
		}
	}
	return live, nil
}

// damageBefore names the first unreadable bytes before off, the likely reason for a hole.
func damageBefore(bad []int64, off int64) string {
	if len(bad) == 0 || bad[0] > off {
		return ""
	}
	return fmt.Sprintf(" (unreadable bytes at offset %d: the journal was damaged after it was written)", bad[0])
}

// ReadJournal returns the entries that a stopped node's journal holds and its node.db does not
// yet, oldest first, checked as Open checks them before folding them. Such entries exist when the
// node was killed rather than closed; it folds them when it starts again. db may be opened
// read-only; a missing journal holds nothing.
func ReadJournal(db *bbolt.DB, path string) ([]Entry, error) {
	live, err := readJournal(db, path, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(live))
	for _, s := range live {
		e, err := decodeEntry(s.value) // plain: a sealed dir's journal is read by VerifySealedWithJournal
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// readJournalFile returns a stopped node's journal; a missing file (or no path) holds nothing.
func readJournalFile(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit journal: %w", err)
	}
	return data, nil
}

func readJournal(db *bbolt.DB, path string, key *atrest.Key) ([]sealedEntry, error) {
	data, err := readJournalFile(path)
	if err != nil || data == nil {
		return nil, err
	}
	var live []sealedEntry
	err = db.View(func(tx *bbolt.Tx) error {
		live, err = journaledAfterHead(tx, data, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read audit journal %s: %w", path, err)
	}
	return live, nil
}

// journaledAfterHead returns the entries of journal data that continue the chain in tx.
func journaledAfterHead(tx *bbolt.Tx, data []byte, key *atrest.Key) ([]sealedEntry, error) {
	h, _, err := readHead(tx.Bucket(bucketMeta))
	if err != nil {
		return nil, err
	}
	return journaled(data, h, key)
}
