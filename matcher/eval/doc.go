// Package eval measures the matcher as issue 3 asks: it generates synthetic records, corrupts some
// of their serials into queries of known classes with ground truth, and reports per class
// recall@1, recall@10, HIT and false-HIT rates, latency and heap, beside each class's ceiling and a
// linear-scan baseline measured in the same run. It may import matcher, reference and synth; no
// production package may import it.
package eval
