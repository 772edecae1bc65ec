package replication

import (
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A chain of three tiers below the raft group (non-voter n3 → fed ncb-2 → fed edge) converges
// after writes, changes and deletes, and each holder names its source.
func TestFeedThreeTiersConverge(t *testing.T) {
	c := newFeedCluster(t)
	c.write(0, 500, 50)
	ncb := c.holder("ncb-2", nil, "n3")
	edge := c.holder("edge", nil, "ncb-2")
	c.waitHolders("fed holders to take the first records")
	c.write(400, 900, 100) // changes 100, creates 400
	c.deleteIDs(0, 120)
	c.waitHolders("fed holders to converge after changes and deletes")
	if st := edge.State().Stats(); st.Records != 780 {
		t.Fatalf("edge holds %d records, want 780", st.Records)
	}
	if src, _ := ncb.Source(); src != "n3" {
		t.Fatalf("ncb-2 takes the shard from %q, want n3", src)
	}
	if src, _ := edge.Source(); src != "ncb-2" {
		t.Fatalf("edge takes the shard from %q, want ncb-2", src)
	}
	if len(edge.Dropped())+len(ncb.Dropped()) != 0 {
		t.Fatalf("honest sources dropped: %v %v", edge.Dropped(), ncb.Dropped())
	}
}

// A source that goes away is replaced by the next, then by a central node; a source that comes
// back is taken again.
func TestFeedSourceAwayFallsBack(t *testing.T) {
	c := newFeedCluster(t)
	c.write(0, 100, 50)
	c.holder("ncb-a", nil, "n3")
	c.holder("ncb-b", nil, "n3")
	edge := c.holder("edge", nil, "ncb-a", "ncb-b")
	c.waitHolders("the first records")
	source := func(want string) {
		t.Helper()
		testutil.WaitFor(t, 20*time.Second, "edge to take the shard from "+want, func() bool {
			src, _ := edge.Source()
			return src == want
		})
	}
	source("ncb-a")
	c.net.setAway("ncb-a", true)
	c.write(100, 200, 50)
	c.waitHolders("convergence with ncb-a away")
	source("ncb-b")
	c.net.setAway("ncb-b", true)
	c.write(200, 300, 50)
	c.waitHolders("convergence with both away")
	source("n0")
	c.net.setAway("ncb-a", false)
	c.write(300, 400, 50)
	c.waitHolders("convergence with ncb-a back")
	source("ncb-a")
	if len(edge.Dropped()) != 0 {
		t.Fatalf("sources away were dropped as if hostile: %v", edge.Dropped())
	}
}
