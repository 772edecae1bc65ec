// Command matcher-eval runs the matcher's evaluation suite (package eval) and prints its report:
// per query class recall@1 and @10 beside their ceilings, HIT and false-HIT rates, latency, index
// heap and build time, and a linear-scan baseline measured in the same run.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/fedarms/fedarms/matcher/eval"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "matcher-eval:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("matcher-eval", flag.ContinueOnError)
	records := fs.Int("records", 20000, "synthetic records in the index")
	seed := fs.Int64("seed", 1, "seed of records and queries")
	perClass := fs.Int("queries", 200, "queries per class")
	base := fs.Int("baseline", 10, "queries per class also run through the linear scan")
	tput := fs.Duration("throughput", 2*time.Second, "how long to measure 4-goroutine throughput (0 to skip)")
	verbose := fs.Bool("v", false, "also print why positives missed their HIT")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep := eval.Run(eval.Config{Records: *records, Seed: *seed, PerClass: *perClass,
		BaselinePerClass: *base, Throughput: *tput})
	rep.Print(os.Stdout, *verbose)
	return nil
}
