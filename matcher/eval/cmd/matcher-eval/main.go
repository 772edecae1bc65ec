// Command matcher-eval runs the matcher's evaluation suite (package eval) and prints its report:
// per query class recall@1 and @10 beside their ceilings, HIT and false-HIT rates, latency, index
// heap and build time, and a linear-scan baseline measured in the same run.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/hugepage"
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
	shapes := fs.Int("shapes", 0, "queries per class and query shape (what is given beside the serial) for the shape tables")
	base := fs.Int("baseline", 10, "queries per class also run through the linear scan")
	tput := fs.Duration("throughput", 2*time.Second, "how long to measure 4-goroutine throughput (0 to skip)")
	verbose := fs.Bool("v", false, "also print why positives missed their HIT")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	profPhase := fs.String("profile-phase", "", "profile only this phase: build or search (default: the whole run)")
	noCeiling := fs.Bool("noceiling", false, "skip the ceiling computation (quick latency runs)")
	batch := fs.Int("batch", 0, "build with PutMany in batches of this many entries, then Compact (as a node starts)")
	prepare := fs.Bool("prepare", false, "after the build, compact as a serving node would (PrepareCompaction, InstallCompaction) if needed")
	live := fs.Bool("live", false, "build with one Put per record instead of one PutMany")
	stats := fs.Bool("stats", false, "also report the mean candidate-generation work per query and class")
	slowest := fs.Int("slowest", 0, "report this many of the slowest queries of every class, with their work")
	only := fs.String("only", "", "comma-separated query classes to run (default: all)")
	repeat := fs.Int("repeat", 1, "run the queries this many times (latencies over every run)")
	httpAddr := fs.String("http", "", "send the queries to the node at this address (POST /v1/search) instead of the index built here; the node must hold the same records (fedarms gen with the same -records and -seed)")
	tokenFile := fs.String("token-file", "", "with -http: the file holding the node's admin token")
	features := fs.String("features", "", "write every case's candidates and their evidence to this file (JSON lines)")
	huge := fs.Bool("hugepages", false, "after the build, back the heap with huge pages (hugepage.Collapse), as a node does")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var classes []string
	if *only != "" {
		classes = strings.Split(*only, ",")
	}
	cfg := eval.Config{Only: classes, Records: *records, Seed: *seed, PerClass: *perClass, Shapes: *shapes,
		BaselinePerClass: *base, Throughput: *tput, NoCeiling: *noCeiling, Live: *live, Batch: *batch, Prepare: *prepare, Repeat: *repeat, Stats: *stats, Slowest: *slowest}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		defer f.Close()
		profiling := false
		start := func() error {
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("start profile: %w", err)
			}
			profiling = true
			return nil
		}
		defer func() {
			if profiling {
				pprof.StopCPUProfile()
			}
		}()
		if *profPhase == "" {
			if err := start(); err != nil {
				return err
			}
		} else {
			var perr error
			cfg.Phase = func(name string) {
				switch {
				case name == *profPhase && !profiling:
					perr = start()
				case name != *profPhase && profiling:
					pprof.StopCPUProfile()
					profiling = false
				}
			}
			defer func() {
				if perr != nil {
					fmt.Fprintln(os.Stderr, "matcher-eval:", perr)
				}
			}()
		}
	}
	if *httpAddr != "" {
		search, err := eval.NodeSearch(*httpAddr, *tokenFile)
		if err != nil {
			return err
		}
		cfg.Search = search
		fmt.Printf("answers from the node at %s over HTTP\n", *httpAddr)
	}
	if *features != "" {
		f, err := os.Create(*features)
		if err != nil {
			return fmt.Errorf("create features: %w", err)
		}
		defer f.Close()
		cfg.Features = f
	}
	if *huge {
		inner := cfg.Phase
		cfg.Phase = func(name string) {
			if name == "search" {
				t0 := time.Now()
				res, err := hugepage.Collapse(64 << 20)
				fmt.Fprintf(os.Stderr, "hugepages: %d mappings, %d MB collapsed, %d MB refused in %v (err %v)\n",
					res.Mappings, res.Collapsed>>20, res.Failed>>20, time.Since(t0).Round(time.Millisecond), err)
			}
			if inner != nil {
				inner(name)
			}
		}
	}
	rep := eval.Run(cfg)
	rep.Print(os.Stdout, *verbose)
	return nil
}
