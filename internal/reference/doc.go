// Package reference owns fedarms' reference tables, in the spirit of INTERPOL's Firearms Reference
// Table: ISO 3166-1 countries with their default INTERPOL region (the shard a record goes to),
// firearm makes with aliases and codes, calibre equivalence classes and firearm type synonyms.
// The tables are data files under data/, embedded at build time and parsed once; every lookup is
// pure and allocation-light so the matcher can call it on the hot path. It imports nothing else of
// fedarms and must stay that way: every other package may depend on it.
package reference
