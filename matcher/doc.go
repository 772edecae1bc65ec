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
// Concurrency: Put, PutMany and Delete are not safe concurrently with any other call. Search and Len
// are safe to call from many goroutines at once as long as no Put, PutMany or Delete runs; Search
// never mutates shared state. The node wraps an Index in a sync.RWMutex and holds the write lock
// only for the duration of one Put or Delete.
package matcher
