// Command benchtool measures fedarms for the bench scripts: the raw bbolt batched write rate (the
// baseline for import), exact search latency in-process and over HTTP, and restart-to-ready time.
// It is run by scripts/bench-import.sh; each of those modes prints one JSON object. snapshot-catchup
// (scripts/bench-snapshot.sh) measures an edge's catch-up by snapshot over libp2p, one line a measure.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/fedarms/fedarms/internal/record"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool bolt-baseline|search-inproc|search-http|snapshot-catchup|screen|hostile|abuse [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "bolt-baseline":
		err = boltBaseline(os.Args[2:])
	case "search-inproc":
		err = searchInproc(os.Args[2:])
	case "search-http":
		err = searchHTTP(os.Args[2:])
	case "snapshot-catchup":
		err = snapshotCatchup(os.Args[2:])
	case "screen":
		err = screenBench(os.Args[2:])
	case "abuse":
		err = abuse(os.Args[2:])
	case "hostile":
		err = hostile(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// readRecords loads a JSON lines file.
func readRecords(path string) ([]record.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []record.Record
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	for {
		var r record.Record
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}

// sample picks n records at random (seeded).
func sample(recs []record.Record, n int, seed uint64) []record.Record {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([]record.Record, n)
	for i := range out {
		out[i] = recs[rng.IntN(len(recs))]
	}
	return out
}

// latencies summarises durations.
type latencies struct {
	N      int     `json:"n"`
	P50us  float64 `json:"p50_us"`
	P90us  float64 `json:"p90_us"`
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`
	MaxUS  float64 `json:"max_us"`
}

func summarise(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		i := int(p * float64(len(ds)-1))
		return float64(ds[i].Nanoseconds()) / 1e3
	}
	return latencies{N: len(ds), P50us: q(0.50), P90us: q(0.90), P99us: q(0.99), P999us: q(0.999), MaxUS: q(1)}
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

func emit(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newFlags(name string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ExitOnError) }
