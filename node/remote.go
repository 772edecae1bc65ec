package node

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// remoteSearchTimeout bounds how long an answer waits for peers; a shard whose peer does not answer
// in time is reported missing, never silently left out.
const remoteSearchTimeout = 2 * time.Second

type remoteSearchRequest struct {
	Request wire.SearchRequest `json:"request"`
	Shards  []string           `json:"shards"`
	// GetID, when set, asks for one record by id instead of a search.
	GetID string `json:"get_id,omitempty"`
}

type remoteSearchAnswer struct {
	Results  []wire.SearchResult  `json:"results"`
	Coverage []wire.ShardCoverage `json:"coverage"`
	Record   *record.Record       `json:"record,omitempty"`
}

// remoteAttemptTimeout bounds one holder's answer, so that a holder that does not answer leaves
// time to ask the next one within remoteSearchTimeout.
const remoteAttemptTimeout = 1200 * time.Millisecond

// fetchRecord finds a record here, or on a central node (which holds every shard) when this node
// does not hold it.
func (n *Node) fetchRecord(ctx context.Context, id string) (record.Record, bool) {
	if r, ok := n.getRecord(id); ok || n.fed == nil {
		return r, ok
	}
	ctx, cancel := context.WithTimeout(ctx, remoteSearchTimeout)
	defer cancel()
	for _, e := range n.fed.roster.List() {
		if e.Role != transport.RoleCentral || e.PeerID == n.fed.id.ID {
			continue
		}
		var ans remoteSearchAnswer
		if err := n.fed.call(ctx, e.PeerID, transport.ProtoSearch, remoteSearchRequest{GetID: id}, &ans); err == nil {
			if ans.Record == nil {
				return record.Record{}, false
			}
			if err := checkFetched(id, ans.Record); err != nil {
				n.refuseAnswer(e.PeerID, err)
				continue
			}
			return *ans.Record, true
		}
	}
	return record.Record{}, false
}

// searchRemote asks members that hold the shards this node lacks, in parallel, and merges what
// they find into resp. A holder that fails or gives a bad answer is not asked again: its shards go
// to their next holder, until every shard is answered, no holder is left or time is up.
func (n *Node) searchRemote(ctx context.Context, req wire.SearchRequest, resp *wire.SearchResponse) {
	missing := map[string]bool{}
	for _, c := range resp.Coverage.Shards {
		if c.Source == "missing" {
			missing[c.Shard] = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, remoteSearchTimeout)
	defer cancel()
	failed := map[peer.ID]bool{}
	var mu sync.Mutex // guards resp, missing and failed while the calls of a round run
	for len(missing) > 0 && ctx.Err() == nil {
		plan := map[peer.ID][]string{}
		for s := range missing {
			for _, p := range n.holdersOf(s) {
				if !failed[p] {
					plan[p] = append(plan[p], s)
					break
				}
			}
		}
		if len(plan) == 0 {
			break
		}
		var wg sync.WaitGroup
		for p, shards := range plan {
			wg.Add(1)
			go func(p peer.ID, shards []string) {
				defer wg.Done()
				ans, err := n.askHolder(ctx, p, req, shards)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed[p] = true
					return
				}
				n.mergeAnswer(p, shards, ans, resp)
				for _, s := range shards {
					delete(missing, s)
				}
			}(p, shards)
		}
		wg.Wait()
	}
	resp.Coverage.Complete = true
	for _, c := range resp.Coverage.Shards {
		if c.Source == "missing" {
			resp.Coverage.Complete = false
		}
	}
}

// askHolder asks p to search shards and checks its answer (remote_check.go).
func (n *Node) askHolder(ctx context.Context, p peer.ID, req wire.SearchRequest, shards []string) (*remoteSearchAnswer, error) {
	actx, cancel := context.WithTimeout(ctx, remoteAttemptTimeout)
	defer cancel()
	var ans remoteSearchAnswer
	if err := n.fed.call(actx, p, transport.ProtoSearch, remoteSearchRequest{Request: req, Shards: shards}, &ans); err != nil {
		n.log.Warn("remote search failed", "peer", p, "shards", shards, "error", err)
		return nil, err
	}
	refuted, err := n.checkSearchAnswer(p, req, shards, &ans)
	if err != nil {
		n.refuseAnswer(p, err)
		return nil, err
	}
	if refuted != nil {
		n.refuseAnswer(p, refuted)
	}
	return &ans, nil
}

// mergeAnswer adds p's checked answer over shards to resp: its results, and its coverage of those
// shards only.
func (n *Node) mergeAnswer(p peer.ID, shards []string, ans *remoteSearchAnswer, resp *wire.SearchResponse) {
	resp.Results = append(resp.Results, ans.Results...)
	e, _ := n.fed.roster.Get(p)
	for _, rc := range ans.Coverage {
		if rc.Source != "local" || !slices.Contains(shards, rc.Shard) {
			continue
		}
		for i := range resp.Coverage.Shards {
			if c := &resp.Coverage.Shards[i]; c.Shard == rc.Shard && c.Source == "missing" {
				rc.Source, rc.Node = "remote", e.Name
				*c = rc
			}
		}
	}
}

// holdersOf ranks the members holding shard, best first: one this node is connected to, then
// one whose signed health it heard lately, then a central node (which holds everything). A member
// gossip says is dead or suspect is still a holder: any member can gossip that, so it only loses
// the rank its own silence would.
func (n *Node) holdersOf(shard string) []peer.ID {
	fresh := map[peer.ID]bool{}
	if g := n.fed.gossip; g != nil {
		for name, m := range g.snapshot() {
			if id, err := peer.Decode(name); err == nil && m.signed && n.since(g.spoke(id, m)) <= suspectAfter {
				fresh[id] = true
			}
		}
	}
	type holder struct {
		id    peer.ID
		score int
	}
	var hs []holder
	for _, e := range n.fed.roster.List() {
		if e.PeerID == n.fed.id.ID || !e.Holds(shard) {
			continue
		}
		score := 0
		if n.fed.host.Connected(e.PeerID) {
			score += 4
		}
		if fresh[e.PeerID] {
			score += 2
		}
		if e.Role == transport.RoleCentral {
			score++
		}
		hs = append(hs, holder{e.PeerID, score})
	}
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].score > hs[j].score })
	out := make([]peer.ID, len(hs))
	for i, h := range hs {
		out[i] = h.id
	}
	return out
}

// holderOf is the best holder of shard (see holdersOf).
func (n *Node) holderOf(shard string) (peer.ID, bool) {
	hs := n.holdersOf(shard)
	if len(hs) == 0 {
		return "", false
	}
	return hs[0], true
}

// serveSearch answers other members' searches over the shards they ask for, from this node's own
// copies. The origin makes any hit's notification; this node audits that it searched for it.
func (n *Node) serveSearch() error {
	return serve(n.fed, transport.ProtoSearch, func(ctx context.Context, from peer.ID, req *remoteSearchRequest) (any, error) {
		e, ok := n.fed.roster.Get(from)
		if !ok {
			return nil, wire.Errorf(wire.Forbidden, "forbidden", "peer %s is not a member", from)
		}
		if req.GetID != "" {
			if err := record.ValidateID(req.GetID); err != nil {
				return nil, wire.Errorf(wire.Invalid, "invalid_field", "get_id: %v", err)
			}
			var ans remoteSearchAnswer
			if r, ok := n.getRecord(req.GetID); ok {
				ans.Record = &r
			}
			n.audit.Append(audit.Entry{Agency: "member:" + e.Name, Action: "record.get.remote", ResultIDs: []string{req.GetID}, Outcome: "ok"})
			return ans, nil
		}
		r := req.Request
		if err := n.checkSearch(&r); err != nil {
			return nil, err
		}
		// Only shards this node holds are searched, whatever else is asked for.
		only := map[string]bool{}
		for _, s := range req.Shards {
			if _, held := n.copies[s]; held {
				only[s] = true
			}
		}
		ans := remoteSearchAnswer{Results: n.localResults(r, only)}
		for _, c := range n.coverage().Shards {
			if only[c.Shard] {
				c.Node = n.cfg.Name
				ans.Coverage = append(ans.Coverage, c)
			}
		}
		ids := make([]string, 0, len(ans.Results))
		for _, res := range ans.Results {
			ids = append(ids, res.ID)
		}
		n.audit.Append(audit.Entry{Agency: "member:" + e.Name, OnBehalfOf: r.OnBehalfOf, Action: "search.remote",
			ResultIDs: ids, Outcome: "ok"})
		return ans, nil
	})
}
