package replication

import "context"

// ForgeBatches makes the server alter every batch of entries it serves of shard with forge before
// it is sent, as a compromised member would (add a record never written, drop a delete): a seam
// for fault drills and tests of the holders fed from this node, which must refuse what it serves.
// Nothing else calls it. A long poll already waiting when it is called is answered genuinely. It
// reports false when the shard is not served here (nothing changes).
func (s *FeedServer) ForgeBatches(shard string, forge func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.origins[shard]
	if ok && forge != nil {
		s.origins[shard] = forgingOrigin{feedOrigin: o, forge: forge}
	}
	return ok
}

// forgingOrigin serves a real copy's batches, altered.
type forgingOrigin struct {
	feedOrigin
	forge func(Checkpoint, []FeedEntry) (Checkpoint, []FeedEntry)
}

func (o forgingOrigin) feedEntries(ctx context.Context, q FeedRequest) (Checkpoint, []FeedEntry, error) {
	cp, entries, err := o.feedOrigin.feedEntries(ctx, q)
	if err == nil {
		cp, entries = o.forge(cp, entries)
	}
	return cp, entries, err
}
