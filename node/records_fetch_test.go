package node

import (
	"testing"

	"github.com/fedarms/fedarms/matcher"
)

// TestResultsAreReadFromTheirShard checks that the index files each record under its shard, and
// that a search's records are found whether that filing is right, missing or wrong, while a record
// that is gone is reported missing.
func TestResultsAreReadFromTheirShard(t *testing.T) {
	tn := startNode(t, t.TempDir())
	us := frRecord("US-R1", "SHRD4410")
	us.RecordingCountry = "US"
	fr := frRecord("FR-R1", "SHRD4411")
	tn.importLines(t, "admin", jsonLines(us, fr))
	sUS, _ := tn.shardMap.Shard("US")
	sFR, _ := tn.shardMap.Shard("FR")
	if sUS == sFR {
		t.Fatalf("US and FR share shard %s: the test needs two", sUS)
	}
	res, shards := tn.index.Search(matcher.Query{Serial: "SHRD4410", Make: "Glock"})
	filed := map[string]string{}
	for i, r := range res {
		filed[r.Key] = shards[i]
	}
	if filed["US-R1"] != sUS || filed["FR-R1"] != sFR {
		t.Fatalf("filed under %v, want US-R1 in %s and FR-R1 in %s", filed, sUS, sFR)
	}
	ids := []string{"US-R1", "FR-R1", "GONE-1"}
	for _, shards := range [][]string{{sUS, sFR, sFR}, {"", "", ""}, {sFR, sUS, sUS}} {
		recs, ok := tn.getRecords(ids, shards)
		if !ok[0] || !ok[1] || ok[2] || recs[0].ID != "US-R1" || recs[1].ID != "FR-R1" {
			t.Errorf("filed under %v: found %v, ids %q %q", shards, ok, recs[0].ID, recs[1].ID)
		}
	}
}
