package node

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/audit"
	"github.com/fedarms/fedarms/record"
	"github.com/fedarms/fedarms/transport"
)

// remoteSearchTimeout bounds how long an answer waits for peers; a shard whose peer does not answer
// in time is reported missing, never silently left out.
const remoteSearchTimeout = 2 * time.Second

type remoteSearchRequest struct {
	Request SearchRequest `json:"request"`
	Shards  []string      `json:"shards"`
	// GetID, when set, asks for one record by id instead of a search.
	GetID string `json:"get_id,omitempty"`
}

type remoteSearchAnswer struct {
	Results  []searchResult  `json:"results"`
	Coverage []ShardCoverage `json:"coverage"`
	Record   *record.Record  `json:"record,omitempty"`
}

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
			if ans.Record != nil {
				return *ans.Record, true
			}
			return record.Record{}, false
		}
	}
	return record.Record{}, false
}

// searchRemote asks members that hold the shards this node lacks, in parallel, and merges what
// they find into resp.
func (n *Node) searchRemote(ctx context.Context, req SearchRequest, resp *SearchResponse) {
	plan := map[peer.ID][]string{}
	for _, c := range resp.Coverage.Shards {
		if c.Source != "missing" {
			continue
		}
		if p, ok := n.holderOf(c.Shard); ok {
			plan[p] = append(plan[p], c.Shard)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, remoteSearchTimeout)
	defer cancel()
	var mu sync.Mutex // guards resp
	var wg sync.WaitGroup
	for p, shards := range plan {
		wg.Add(1)
		go func(p peer.ID, shards []string) {
			defer wg.Done()
			var ans remoteSearchAnswer
			err := n.fed.call(ctx, p, transport.ProtoSearch, remoteSearchRequest{Request: req, Shards: shards}, &ans)
			if err != nil {
				n.log.Warn("remote search failed", "peer", p, "shards", shards, "error", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			resp.Results = append(resp.Results, ans.Results...)
			for _, rc := range ans.Coverage {
				for i := range resp.Coverage.Shards {
					if resp.Coverage.Shards[i].Shard == rc.Shard && rc.Source == "local" {
						rc.Source = "remote"
						resp.Coverage.Shards[i] = rc
					}
				}
			}
		}(p, shards)
	}
	wg.Wait()
	resp.Coverage.Complete = true
	for _, c := range resp.Coverage.Shards {
		if c.Source == "missing" {
			resp.Coverage.Complete = false
		}
	}
}

// holderOf picks a member holding shard: an alive one the node is connected to if possible,
// central nodes (which hold everything) before others.
func (n *Node) holderOf(shard string) (peer.ID, bool) {
	alive := map[string]bool{}
	for _, m := range n.Members() {
		alive[m.PeerID] = m.Status == "alive"
	}
	var best peer.ID
	bestScore := -1
	for _, e := range n.fed.roster.List() {
		if e.PeerID == n.fed.id.ID || !e.Holds(shard) {
			continue
		}
		score := 0
		if alive[e.PeerID.String()] {
			score += 4
		}
		if n.fed.host.Connected(e.PeerID) {
			score += 2
		}
		if e.Role == transport.RoleCentral {
			score++
		}
		if score > bestScore {
			best, bestScore = e.PeerID, score
		}
	}
	return best, bestScore >= 0
}

// serveSearch answers other members' searches over the shards they ask for, from this node's own
// copies. The origin makes any hit's notification; this node audits that it searched for it.
func (n *Node) serveSearch() error {
	return serve(n.fed, transport.ProtoSearch, func(ctx context.Context, from peer.ID, req *remoteSearchRequest) (any, error) {
		e, ok := n.fed.roster.Get(from)
		if !ok {
			return nil, errf(403, "forbidden", "peer %s is not a member", from)
		}
		if req.GetID != "" {
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
		only := map[string]bool{}
		for _, s := range req.Shards {
			only[s] = true
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
