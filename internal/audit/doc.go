// Package audit keeps a node's tamper-evident audit log: every search and every write made through a
// node is appended as an Entry (who, on whose behalf, what was asked or changed, what came back), as
// EU SIS rules require for search data and user ids.
//
// The package owns two buckets of the node's local bbolt file and, when given one, a journal file
// beside it; the caller opens and closes the bbolt file. It must not import other fedarms packages
// (its tests may import internal/testutil), so that the offline verifier and the node share
// exactly one definition of the chain.
//
// # Writing
//
// AppendTx appends inside the caller's write transaction, so an audit entry and whatever it audits
// become durable together or not at all. Append hands the entry to one writer goroutine that makes
// every entry queued meanwhile durable in one go (group commit): one sync is shared by all
// concurrent searches, without any artificial delay. AppendWith does the same with a function run
// in the entry's node.db transaction (a hit's notification in the outbox).
//
// Without Options.Journal each group commit is a node.db transaction. With it, the writer seals the
// batch itself, appends it to the journal as one checksummed frame and syncs that file once: the
// entries are durable, and Pending.Wait returns, when that fdatasync has returned. The writer folds
// journaled entries into the audit buckets later (every FoldEntries entries or FoldInterval, and
// before any AppendWith), and recovers whatever a crash left in the journal when the log is opened
// again. "Durable" therefore means: in node.db, or in the journal, and in node.db after the next
// Open. The log's Tail, Since and Verify have the writer fold first, so they see every
// acknowledged entry. A stopped node's journal may still hold entries (the node was killed, not
// closed): ReadJournal and VerifyWithJournal read them from the files alone, without a Log, as
// `fedarms audit verify --data` does. The package keeps no state outside a Log.
//
// # Storage
//
// Bucket "audit" maps the 8-byte big-endian sequence number (1, 2, ...) to the entry encoded as JSON.
// Bucket "audit_meta" holds the key "head" with the JSON value {"seq":N,"hash":"<hex>"}: the last
// sequence number and its hash, so that a truncated tail is detected, and the key "journal" names
// the last journaled Log opened on the file ({"db":"<path>","journal":"<path>"}), so that a second
// one is refused while the first holds its journal. The journal holds the very
// same value bytes, framed; its format is described in journal.go and DESIGN.md.
//
// # Hash chain
//
// An outside verifier can check the chain with SHA-256 and string handling only, no JSON encoder:
//
//	value     = the bytes stored under key n in bucket "audit"
//	canonical = value with the hash member emptied: value ends with "hash":"<64 hex>"} and canonical
//	            ends with "hash":""}, every byte before that being identical
//	hash      = lowercase hex of SHA-256(prev_hash || canonical)
//
// where prev_hash is the ASCII text of the previous entry's hash, and the empty string for entry 1.
// The entry's own prev_hash and hash members must hold exactly these values, and its seq member must
// equal n. The stored value is what Go's encoding/json produces for Entry with its members in
// declaration order: compact, members with omitempty left out when empty, the characters <, > and &
// inside strings escaped as \u003c, \u003e and \u0026, the query embedded as compact JSON, and the
// time in UTC as RFC 3339 with nanoseconds and trailing zeros trimmed (time.RFC3339Nano). Re-encoding
// a decoded entry with encoding/json and Hash set to "" yields canonical again, byte for byte.
//
// A hash chain shows that entries were changed, removed or reordered; it cannot show that the whole
// tail was rewritten consistently by someone with write access to the file. Publishing the head
// elsewhere from time to time closes that gap: Head is what a node publishes (the node signs it
// and the central nodes keep it), and VerifyAnchored / VerifyWithJournalAnchored check that the
// entry at each published seq exists with the published hash (anchor.go; CheckAnchor for a
// verifier reading entries one by one).
package audit
