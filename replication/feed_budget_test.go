package replication

import (
	"context"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A raft member answers a batch within the bytes the holder asks for (at least one entry): a
// holder on a thin link sizes its batches to what its cap carries in time.
func TestFeedEntriesWithinMaxBytes(t *testing.T) {
	c := newFeedCluster(t)
	c.write(0, 400, 50)
	n3 := c.members[3]
	testutil.WaitFor(t, 20*time.Second, "n3 to apply the writes", func() bool { return n3.g.State().Stats().Records == 400 })
	ask := func(maxBytes uint32) []FeedEntry {
		call, err := ask(context.Background(), c.net.dial, "n0", FeedRequest{Kind: FeedEntries, Shard: "europe",
			MaxEntries: 256, MaxBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		defer call.close()
		_, entries, err := readFeedEntries(call.body, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}
	all := ask(8 << 20)
	one := ask(1)
	t.Logf("%d entries within 8 MiB, %d within 1 byte", len(all), len(one))
	if len(all) < 6 || len(one) == 0 || len(one) >= len(all)/2 {
		t.Fatalf("%d entries within 8 MiB, %d within 1 byte", len(all), len(one))
	}
}
