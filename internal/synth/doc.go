// Package synth generates deterministic synthetic firearm records for demos, tests and
// benchmarks: makes drawn from the reference table with realistic weights and real models,
// serials in sequential factory runs, aliases and separators as different NCBs record them,
// and ids unique over the whole sequence. It imports record and reference only, does no I/O
// beyond the writer it is handed, and must not import the node, replication or matcher.
package synth
