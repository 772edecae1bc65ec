package eval

import (
	"cmp"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedarms/fedarms/matcher"
)

// Config says how big an evaluation to run.
type Config struct {
	Records  int   // synthetic records in the index
	Seed     int64 // seed of the records and of the queries
	PerClass int   // queries per class
	// Shapes is how many queries of every positive class and query shape (see Shapes) to add,
	// reported in the shape tables; 0 for none.
	Shapes           int
	BaselinePerClass int // of which this many also go through the linear-scan baseline
	Workers          int // goroutines for the ceiling computation; 0 means GOMAXPROCS
	Throughput       time.Duration
	Options          matcher.Options
	// NoCeiling skips the ceiling computation (the slowest part), for quick latency runs.
	NoCeiling bool
	// Batch, when positive, builds the index as the node loads it at start: PutMany in batches
	// of this many entries, then one Compact (timed apart in the report).
	Batch int
	// Prepare, after the build, compacts the index as a node would while serving searches
	// (PrepareCompaction, then InstallCompaction), when it NeedsCompaction; both are timed.
	Prepare bool
	// Live builds the index with one Put per record, as a node that imports through its API does,
	// instead of one PutMany; the report then also gives the slowest single Put.
	Live bool
	// Slowest, when positive, keeps the slowest queries of every class for the report.
	Slowest int
	// Only, when set, keeps the queries of these classes only (for profiling one class).
	Only []string
	// Stats also runs every query through matcher.DebugSearch and reports the mean work per class.
	Stats bool
	// Repeat runs the queries this many times (at least once). With more than one run, every
	// query's latency is its median over the runs, which keeps what the query costs and drops
	// what the machine did meanwhile (other processes, a collection); RawP99 keeps the plain
	// 99th percentile over every run.
	Repeat int
	// Search, when set, answers the queries instead of the index the run builds (which still
	// gives the heap, the statistics and the throughput): the cmd sends them to a running node
	// over HTTP, holding the same records, and the answers are judged the same way.
	Search func(matcher.Query) ([]matcher.Result, error)
	// Features, when set, receives one JSON line per case: the query, its class and shape, the
	// truth's key and every candidate's evidence in the answer's order (matcher.DebugRank), for
	// analysing what separates a misread serial from a chance neighbour.
	Features io.Writer
	// Phase, when set, is called as each phase ("build", "search", "done") starts, so a caller can
	// profile one phase alone.
	Phase func(name string)
}

// ClassReport is what one query class measured.
type ClassReport struct {
	Class    string
	Shape    string // for the shape tables
	N        int
	NoResult float64 // positives answered with no result at all
	// First counts the positives whose truth ranks first, FirstFlagged those of them shown as
	// REVIEW or HIT.
	First, FirstFlagged int
	Recall1, Recall10   float64 // truth ranked first / in the top 10
	Ceil1, Ceil10       float64 // the same for the best possible ranker (see Run)
	ExpectedRank        float64 // the truth's expected rank under that ranker
	// HitMax is the share of queries whose truth stands alone at the top of that ranker's order:
	// no other record outranks it or ties with it. Where that order reads all the query shows
	// (a '?' is one unreadable character to it), HitMax bounds the HIT rate a matcher can reach
	// without a HIT on a record the query cannot tell from the truth. It is no bound where the
	// tied records are duplicates of one firearm (exact) or a token explains the query (token).
	HitMax float64
	// Ties counts the queries whose truth shares the top of that order, by how many records share
	// it (the truth included).
	Ties             map[int]int
	Hit              float64 // positives: the truth is a HIT
	WrongHit         float64 // positives: another record is a HIT; negatives: any HIT
	Review           float64 // positives: the truth deserves review; negatives: anything does
	P50, P99         time.Duration
	RawP99           time.Duration // over every run of every query (see Config.Repeat)
	BaseN            int
	BaseRecall1      float64
	BaseRecall10     float64
	BaseP50, BaseP99 time.Duration
	// Misses counts positives without a HIT on the truth, by reason; for negatives, the answers
	// with a REVIEW, by what the first REVIEW's serial says.
	Misses               map[string]int
	Work                 matcher.SearchStats // mean candidate-generation work per query (Config.Stats)
	Slow                 []SlowQuery         // the slowest queries (Config.Slowest)
	latencies, baseLat   []time.Duration
	rawLat               []time.Duration
	sumC1, sumC10, sumER float64
	sumAlone             float64
}

// Report is the whole evaluation.
type Report struct {
	Records     int
	Repeat      int // runs of every query (see Config.Repeat)
	Build       time.Duration
	SlowestPut  time.Duration // with Config.Live: the longest single Put
	Compact     time.Duration // with Config.Batch: the final Compact, included in Build
	Prepared    bool          // with Config.Prepare: a compaction was needed and done
	PrepareTime time.Duration // PrepareCompaction (searches may run meanwhile)
	InstallTime time.Duration // InstallCompaction (holds the write lock)
	HeapMB      float64
	Stats       string
	Classes     []ClassReport
	Shaped      []ClassReport // per class and shape (Config.Shapes), class by class
	Recall1     float64       // over all positives
	Ceil1       float64
	WrongHit    float64 // over all positives: another record is a HIT
	Throughput  float64 // searches per second with 4 goroutines searching at once
	CeilingTime time.Duration
	// SearchErrors counts the queries Config.Search failed to answer (judged as answered with
	// nothing), SearchError is the first of them.
	SearchErrors int
	SearchError  error
}

// Run generates the data and queries, builds the index and measures it. The ceiling of a
// positive query is computed from every record's rankKey (make and type agreement, confusable-
// aware distance, plain distance) with ties broken at random: the truth's chance of being in the
// top k is (k - above)/(ties + 1), clamped to [0,1].
func Run(cfg Config) *Report {
	d := NewDataset(cfg.Records, cfg.Seed)
	gen := NewGenerator(d, uint64(cfg.Seed))
	cases := gen.Cases(cfg.PerClass)
	if cfg.Shapes > 0 {
		cases = append(cases, gen.ShapeCases(cfg.Shapes)...)
	}
	if len(cfg.Only) > 0 {
		cases = slices.DeleteFunc(cases, func(c Case) bool { return !slices.Contains(cfg.Only, c.Class) })
	}
	c := newCorpus(d)
	entries := d.Entries
	d = nil // the records' own strings stay alive only through the entries, then the index

	rep := &Report{Records: cfg.Records, Repeat: max(cfg.Repeat, 1)}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	phase := func(string) {}
	if cfg.Phase != nil {
		phase = cfg.Phase
	}
	phase("build")
	start := time.Now()
	ix := matcher.New(Tables{}, cfg.Options)
	switch {
	case cfg.Live:
		for i := range entries {
			t0 := time.Now()
			ix.Put(entries[i])
			rep.SlowestPut = max(rep.SlowestPut, time.Since(t0))
		}
	case cfg.Batch > 0:
		for i := 0; i < len(entries); i += cfg.Batch {
			ix.PutMany(entries[i:min(i+cfg.Batch, len(entries))])
		}
		t0 := time.Now()
		ix.Compact()
		rep.Compact = time.Since(t0)
	default:
		ix.PutMany(entries)
	}
	rep.Build = time.Since(start)
	if cfg.Prepare && ix.NeedsCompaction() {
		t0 := time.Now()
		c := ix.PrepareCompaction()
		t1 := time.Now()
		ix.InstallCompaction(c)
		rep.Prepared, rep.PrepareTime, rep.InstallTime = true, t1.Sub(t0), time.Since(t1)
	}
	entries = nil
	runtime.GC()
	runtime.ReadMemStats(&m1)
	// What the index holds beyond the record ids, makes and models it shares with the entries
	// (the node holds those strings anyway).
	rep.HeapMB = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / (1 << 20)
	rep.Stats = matcher.DebugStats(ix)

	byClass := map[string]*ClassReport{}
	for _, class := range Classes {
		rep.Classes = append(rep.Classes, ClassReport{Class: class})
	}
	if cfg.Shapes > 0 {
		for _, class := range ShapeClasses {
			for _, shape := range Shapes {
				rep.Shaped = append(rep.Shaped, ClassReport{Class: class, Shape: shape})
			}
		}
	}
	for i := range rep.Classes {
		byClass[rep.Classes[i].Class] = &rep.Classes[i]
	}
	for i := range rep.Shaped {
		byClass[reportKey(rep.Shaped[i].Class, rep.Shaped[i].Shape)] = &rep.Shaped[i]
	}
	phase("search")
	runs := max(cfg.Repeat, 1)
	perQuery := make([][]time.Duration, len(cases))
	for run := range runs {
		for ci, cs := range cases {
			cr := byClass[reportKey(cs.Class, cs.Shape)]
			q := cs.Query
			q.Limit = 10
			t0 := time.Now()
			var res []matcher.Result
			if cfg.Search != nil {
				var err error
				if res, err = cfg.Search(q); err != nil {
					rep.SearchErrors++
					if rep.SearchError == nil {
						rep.SearchError = err
					}
				}
			} else {
				res = ix.Search(q)
			}
			took := time.Since(t0)
			cr.rawLat = append(cr.rawLat, took)
			perQuery[ci] = append(perQuery[ci], took)
			if run == 0 {
				cr.N++
				score(cr, c, cs, nodeOrder(res))
			}
		}
	}
	phase("done")
	for ci, cs := range cases {
		ls := perQuery[ci]
		slices.Sort(ls)
		cr := byClass[reportKey(cs.Class, cs.Shape)]
		cr.latencies = append(cr.latencies, ls[len(ls)/2])
		if cfg.Slowest > 0 {
			cr.Slow = keepSlowest(cr.Slow, SlowQuery{Query: cs.Query, Took: ls[len(ls)/2]}, cfg.Slowest)
		}
	}
	for i := range rep.Classes {
		for j := range rep.Classes[i].Slow {
			sq := &rep.Classes[i].Slow[j]
			sq.Stats = matcher.DebugSearch(ix, sq.Query)
		}
	}
	if cfg.Stats {
		for _, cs := range cases {
			w := &byClass[reportKey(cs.Class, cs.Shape)].Work
			st := matcher.DebugSearch(ix, cs.Query)
			w.Probes += st.Probes
			w.Matched += st.Matched
			w.Passed += st.Passed
			w.Checked += st.Checked
			w.Verified += st.Verified
			w.Candidates += st.Candidates
		}
	}
	var ceil []caseCeiling
	if !cfg.NoCeiling {
		ceil = ceilings(cfg, rep, byClass, c, cases)
	}
	if cfg.Features != nil {
		writeFeatures(cfg.Features, ix, c, cases, ceil)
	}
	baselines(cfg, byClass, c, cases)
	if cfg.Throughput > 0 {
		rep.Throughput = throughput(ix, cases, 4, cfg.Throughput)
	}
	pos, r1, c1, wrong := 0, 0.0, 0.0, 0.0
	for i := range rep.Classes {
		cr := &rep.Classes[i]
		finish(cr)
		if !IsNegative(cr.Class) {
			pos += cr.N
			r1 += cr.Recall1 * float64(cr.N)
			c1 += cr.Ceil1 * float64(cr.N)
			wrong += cr.WrongHit * float64(cr.N)
		}
	}
	if pos > 0 {
		rep.Recall1, rep.Ceil1, rep.WrongHit = r1/float64(pos), c1/float64(pos), wrong/float64(pos)
	}
	for i := range rep.Shaped {
		finish(&rep.Shaped[i])
	}
	return rep
}

// reportKey names the report a case counts in: its class, or its class and shape.
func reportKey(class, shape string) string {
	if shape == "" {
		return class
	}
	return class + "/" + shape
}

// scannerFor is the corpus scanner that computes a case's ceiling.
func (c *corpus) scannerFor(cs Case) *scanner {
	s := c.scanner(cs.Query)
	s.affix = cs.Class == "mark" || cs.Class == "tail"
	return s
}

// nodeOrder orders an answer as the node does when it merges the answers of its shards and
// peers (node/search.go): by score, then by record id. The officer sees that order, so the suite
// judges it: a score that does not keep the evidence's order shows here.
func nodeOrder(res []matcher.Result) []matcher.Result {
	res = slices.Clone(res)
	slices.SortStableFunc(res, func(a, b matcher.Result) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return res
}

// score records one answer: where the truth ranks, and which HITs it carries.
func score(cr *ClassReport, c *corpus, cs Case, res []matcher.Result) {
	if cs.Truth < 0 {
		for _, r := range res {
			if r.Hit {
				cr.WrongHit++
				break
			}
		}
		for _, r := range res {
			if r.Review {
				cr.Review++
				if cr.Misses == nil {
					cr.Misses = map[string]int{}
				}
				cr.Misses[r.Why.Serial]++
				break
			}
		}
		return
	}
	truth := c.id(cs.Truth)
	if len(res) == 0 {
		cr.NoResult++
	}
	wrong, hit := false, false
	defer func() {
		if hit {
			return
		}
		reason := "not in top 10"
		for _, r := range res {
			if r.Key == truth {
				reason = r.Why.Hit
				if reason == "" {
					reason = "score below threshold"
				}
				if r.Review && r.Why.Tie != "" {
					// The single-'?' target: a truth not alone at the top is a REVIEW naming the tie.
					reason += " (REVIEW, tie named)"
				}
			}
		}
		if cr.Misses == nil {
			cr.Misses = map[string]int{}
		}
		cr.Misses[reason]++
	}()
	for rank, r := range res {
		if r.Key == truth {
			if rank == 0 {
				cr.Recall1++
				cr.First++
				if r.Review || r.Hit {
					cr.FirstFlagged++
				}
			}
			cr.Recall10++
			if r.Hit {
				cr.Hit++
				hit = true
			}
			if r.Review {
				cr.Review++
			}
			continue
		}
		if r.Hit && !sameFirearm(c, cs.Truth, c.index(r.Key)) {
			wrong = true
		}
	}
	if wrong {
		cr.WrongHit++
	}
}

// sameFirearm reports whether two records describe the same firearm as far as a HIT is concerned:
// same serial (as the skeleton reads it) and same make. Such duplicates may both be HITs.
func sameFirearm(c *corpus, a, b int) bool {
	if b < 0 || c.makeID[a] != c.makeID[b] {
		return false
	}
	for i := c.first[a]; i < c.first[a+1]; i++ {
		for j := c.first[b]; j < c.first[b+1]; j++ {
			if string(c.skel(int(i))) == string(c.skel(int(j))) {
				return true
			}
		}
	}
	return false
}

// ceilings computes every positive case's ceiling, in parallel.
func ceilings(cfg Config, rep *Report, byClass map[string]*ClassReport, c *corpus, cases []Case) []caseCeiling {
	start := time.Now()
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type out struct {
		key                  string
		c1, c10, rank, alone float64
		tied                 int // records sharing the top with the truth, the truth included
	}
	results := make([]out, len(cases))
	per := make([]caseCeiling, len(cases))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cases) {
					return
				}
				cs := cases[i]
				if cs.Truth < 0 {
					continue
				}
				above, ties := c.scannerFor(cs).ceiling(int32(cs.Truth))
				per[i] = caseCeiling{Above: above, Ties: ties, Known: true}
				alone, tied := 0.0, 0
				switch {
				case above == 0 && ties == 0:
					alone = 1
				case above == 0:
					tied = int(ties) + 1
				}
				results[i] = out{reportKey(cs.Class, cs.Shape), ceilingRecall(above, ties, 1), ceilingRecall(above, ties, 10),
					float64(above) + float64(ties)/2 + 1, alone, tied}
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.key == "" {
			continue
		}
		cr := byClass[r.key]
		cr.sumC1 += r.c1
		cr.sumC10 += r.c10
		cr.sumER += r.rank
		cr.sumAlone += r.alone
		if r.tied > 0 {
			if cr.Ties == nil {
				cr.Ties = map[int]int{}
			}
			cr.Ties[r.tied]++
		}
	}
	rep.CeilingTime = time.Since(start)
	return per
}

// caseCeiling is one positive case's place in the ceiling's order: records strictly above the
// truth and records tied with it (Known is false for negatives or when no ceiling was computed).
type caseCeiling struct {
	Above, Ties int
	Known       bool
}

// baselines runs the first cases of every class through the linear scan.
func baselines(cfg Config, byClass map[string]*ClassReport, c *corpus, cases []Case) {
	for _, cs := range cases {
		if cs.Shape != "" {
			continue
		}
		cr := byClass[cs.Class]
		if cr.BaseN >= cfg.BaselinePerClass {
			continue
		}
		t0 := time.Now()
		top := c.scanner(cs.Query).baseline(10)
		cr.baseLat = append(cr.baseLat, time.Since(t0))
		cr.BaseN++
		if cs.Truth >= 0 {
			if i := slices.Index(top, int32(cs.Truth)); i >= 0 {
				cr.BaseRecall10++
				if i == 0 {
					cr.BaseRecall1++
				}
			}
		}
	}
}

// throughput runs the cases' queries from n goroutines for about dur and returns searches/s.
func throughput(ix *matcher.Index, cases []Case, n int, dur time.Duration) float64 {
	var done atomic.Int64
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(stop); i += n {
				q := cases[i%len(cases)].Query
				q.Limit = 10
				ix.Search(q)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// finish turns counts into rates and sorts the latencies into percentiles.
func finish(cr *ClassReport) {
	if cr.N > 0 {
		n := float64(cr.N)
		cr.Recall1 /= n
		cr.Recall10 /= n
		cr.Hit /= n
		cr.WrongHit /= n
		cr.Review /= n
		cr.NoResult /= n
		cr.Ceil1, cr.Ceil10, cr.ExpectedRank, cr.HitMax = cr.sumC1/n, cr.sumC10/n, cr.sumER/n, cr.sumAlone/n
		cr.P50, cr.P99 = percentiles(cr.latencies)
		_, cr.RawP99 = percentiles(cr.rawLat)
	}
	if cr.BaseN > 0 {
		cr.BaseRecall1 /= float64(cr.BaseN)
		cr.BaseRecall10 /= float64(cr.BaseN)
		cr.BaseP50, cr.BaseP99 = percentiles(cr.baseLat)
	}
}

func percentiles(ls []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(ls)
	return ls[len(ls)/2], ls[min(len(ls)-1, len(ls)*99/100)]
}

// SlowQuery is one of the slowest queries of a class, with the work it did.
type SlowQuery struct {
	Query matcher.Query
	Took  time.Duration
	Stats matcher.SearchStats
}

// keepSlowest adds q to the n slowest, slowest first.
func keepSlowest(slow []SlowQuery, q SlowQuery, n int) []SlowQuery {
	i, _ := slices.BinarySearchFunc(slow, q, func(a, b SlowQuery) int { return int(b.Took - a.Took) })
	if i >= n {
		return slow
	}
	slow = slices.Insert(slow, i, q)
	return slow[:min(len(slow), n)]
}

// writeFeatures writes one JSON line per case for Config.Features.
func writeFeatures(w io.Writer, ix *matcher.Index, c *corpus, cases []Case, ceil []caseCeiling) {
	enc := json.NewEncoder(w)
	for i, cs := range cases {
		var cc caseCeiling
		if i < len(ceil) {
			cc = ceil[i]
		}
		q := cs.Query
		q.Limit = 10
		cands, qn := matcher.DebugRank(ix, q)
		truth, serials := "", []string(nil)
		if cs.Truth >= 0 {
			truth = c.id(cs.Truth)
			for j := c.first[cs.Truth]; j < c.first[cs.Truth+1]; j++ {
				serials = append(serials, string(c.norm(int(j))))
			}
		}
		_ = enc.Encode(struct {
			Class, Shape, Truth, QN string
			TruthSerials            []string
			Query                   matcher.Query
			Cands                   []matcher.DebugCandidate
			Ceiling                 caseCeiling `json:",omitempty"`
		}{cs.Class, cs.Shape, truth, qn, serials, q, cands[:min(len(cands), 40)], cc})
	}
}
