package node

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// A remote search answer comes from a member that may be hostile, and a hit made from it sends a
// notification to a foreign NCB. So the origin checks every result before it counts: the record is
// there, valid, and of a shard the origin asked this member for and the roster says it holds; and
// the origin scores it again with its own matcher, so that neither the score nor the hit is the
// answerer's word alone (a hit needs the answerer's claim and the origin's agreement).

// errBadResult is a remote answer carrying a result the answerer may not give.
var errBadResult = errors.New("bad result")

// checkSearchAnswer checks the results of ans, p's answer to a search of req over shards, and scores
// them again. An answer with a result p may not give at all (another shard, an invalid record) is
// refused whole: the error says why, and nothing of it may be used. Otherwise a result the local
// matcher does not find for the query is dropped, a hit it does not confirm becomes a lead, and
// claimed hits it refutes are reported in refuted.
func (n *Node) checkSearchAnswer(p peer.ID, req wire.SearchRequest, shards []string, ans *remoteSearchAnswer) (refuted error, err error) {
	e, ok := n.fed.roster.Get(p)
	if !ok {
		return nil, fmt.Errorf("%s is not a member: %w", p, errBadResult)
	}
	asked := map[string]bool{}
	for _, s := range shards {
		asked[s] = true
	}
	if len(ans.Results) > max(req.Limit, 1) {
		return nil, fmt.Errorf("%d results for a limit of %d: %w", len(ans.Results), req.Limit, errBadResult)
	}
	seen := map[string]bool{}
	recs := make([]*record.Record, 0, len(ans.Results))
	for i := range ans.Results {
		res := &ans.Results[i]
		if res.Record == nil {
			return nil, fmt.Errorf("result %q without its record: %w", res.ID, errBadResult)
		}
		r := *res.Record
		r.Normalize()
		if err := r.Validate(isCountry); err != nil {
			return nil, fmt.Errorf("result %q: %v: %w", res.ID, err, errBadResult)
		}
		if res.ID != r.ID || seen[r.ID] {
			return nil, fmt.Errorf("result %q for record %q (twice or misnamed): %w", res.ID, r.ID, errBadResult)
		}
		seen[r.ID] = true
		shard, ok := n.shardMap.Shard(r.RecordingCountry)
		switch {
		case !ok || !asked[shard]:
			return nil, fmt.Errorf("record %s of %s (shard %s), asked for %v: %w", r.ID, r.RecordingCountry, orNone(shard), shards, errBadResult)
		case !e.Holds(shard):
			return nil, fmt.Errorf("record %s of shard %s, which %s does not hold: %w", r.ID, shard, e.Name, errBadResult)
		}
		res.Record = &r
		recs = append(recs, &r)
	}
	local := n.fed.rescore.score(matcher.Query{Serial: req.Serial, Make: req.Make, Model: req.Model,
		Calibre: req.Calibre, Type: req.Type}, recs)
	kept := ans.Results[:0]
	var refutedErrs []error
	for _, res := range ans.Results {
		m, found := local[res.ID]
		if !found {
			if res.Hit || res.Review {
				refutedErrs = append(refutedErrs, fmt.Errorf("record %s does not match the query", res.ID))
			}
			continue
		}
		if res.Hit && !m.Hit {
			refutedErrs = append(refutedErrs, fmt.Errorf("claimed a hit on %s, scored %.2f here (%s)", res.ID, m.Score, orNone(m.Why.Hit)))
		}
		claimed := res.Score
		if math.IsNaN(claimed) || claimed < 0 || claimed > 1 {
			claimed = 0
		}
		res.Score = min(claimed, m.Score)
		res.Hit = res.Hit && m.Hit
		res.Review = m.Review
		res.Why = m.Why
		res.Tie = m.Tie
		res.NotificationID = ""
		kept = append(kept, res)
	}
	ans.Results = kept
	if len(refutedErrs) > 0 {
		return fmt.Errorf("%w: %w", errors.Join(refutedErrs...), errBadResult), nil
	}
	return nil, nil
}

// rescorer scores records against a query with this node's matcher, on a small index of its own.
// The index is kept between answers (a new one costs milliseconds and megabytes) and replaced
// every rescoreUses answers, so the deletions do not pile up in it.
type rescorer struct {
	mu   sync.Mutex // guards ix and uses; one answer at a time
	ix   *matcher.Index
	uses int
}

const rescoreUses = 256

// score returns the local matcher's result for each of recs that matches q.
func (r *rescorer) score(q matcher.Query, recs []*record.Record) map[string]matcher.Result {
	out := make(map[string]matcher.Result, len(recs))
	if len(recs) == 0 {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ix == nil || r.uses >= rescoreUses || r.ix.NeedsCompaction() {
		r.ix, r.uses = matcher.New(referenceTables{}, matcher.Options{}), 0
	}
	r.uses++
	for _, rec := range recs {
		r.ix.Put(entryOf(rec, 0))
	}
	q.Limit = min(len(recs), matcher.MaxLimit)
	for _, res := range r.ix.Search(q) {
		out[res.Key] = res
	}
	for _, rec := range recs {
		r.ix.Delete(rec.ID)
	}
	return out
}

// checkFetched checks a record p returned for id: that record, valid.
func checkFetched(id string, r *record.Record) error {
	c := *r
	c.Normalize()
	if err := c.Validate(isCountry); err != nil {
		return fmt.Errorf("record %q: %v: %w", id, err, errBadResult)
	}
	if c.ID != id {
		return fmt.Errorf("asked for %q, got %q: %w", id, c.ID, errBadResult)
	}
	return nil
}

// refuseAnswer records p's bad answer on the search protocol.
func (n *Node) refuseAnswer(p peer.ID, err error) {
	n.refused(p, transport.ProtoSearch, "bad_result", err)
}
