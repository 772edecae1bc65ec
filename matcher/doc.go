// Package matcher finds the recorded firearm behind a misread, partial or aliased description.
//
// It owns serial normalisation (case, separators, Cyrillic and Greek look-alikes, leading zeros,
// letters embedded between digits, a confusable skeleton), the in-memory match index over every
// record's serial and other serials, candidate generation (exact, confusable, up to two edits with
// transpositions, '?' and '*' for unreadable characters, prefix and suffix noise), verification and
// the record-linkage score with its HIT and REVIEW thresholds.
//
// The package is pure: no I/O, no goroutines, no clocks, no global mutable state. It imports nothing
// of fedarms: the reference tables (make aliases, calibre classes, types) reach it through the small
// Reference interface, which the node adapts. See DESIGN.md for why the index is built as it is.
//
// Concurrency: Put, PutMany, Delete, Compact and InstallCompaction are not safe concurrently with
// any other call. Search, Len, NeedsCompaction and PrepareCompaction are safe to call from many
// goroutines at once as long as none of those runs; they never mutate shared state. The node
// wraps an Index in a sync.RWMutex: the write lock for a chunk of Puts and Deletes (each costs a
// few microseconds, and no call does more than a bounded step of merge work: there is no
// rebuild), the read lock for searches and for PrepareCompaction (see Compaction).
//
// Start-up: PutMany in batches, then Compact once before serving (it finishes the merges the
// batches left, about 0.4 s at 1.4M records).
package matcher
