package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

var centrals = []string{"lyon-1", "lyon-2", "lyon-3"}

// twoNodeNCBSpecs is fedSpecs with a second node for the NCB of France.
func twoNodeNCBSpecs() []fedplan.MemberSpec {
	return append(fedSpecs(), fedplan.MemberSpec{Name: "ncb-fr-2", Role: "ncb", Country: "FR", Shards: []string{"europe"}})
}

// restart closes a member and opens it again on its data dir.
func (fc *fedCluster) restart(name string, down func()) {
	fc.t.Helper()
	fc.nodes[name].Close()
	if down != nil {
		down()
	}
	for _, c := range fc.layout.Configs {
		if c.Name != name {
			continue
		}
		n, err := Open(c, Options{Logger: testLogger(fc.t, c.Name+"-again")})
		if err != nil {
			fc.t.Fatalf("reopening %s: %v", name, err)
		}
		fc.nodes[name] = n
		return
	}
	fc.t.Fatalf("no member %s", name)
}

// searchHit searches at origin for the record of country number i until a hit comes back (the
// origin's index may not hold the record yet), and returns the hit's id.
func (fc *fedCluster) searchHit(origin, country string, i int) string {
	fc.t.Helper()
	customs := auth.Principal{Agency: "CUSTOMS", Roles: []string{"searcher"}}
	var id string
	testutil.WaitFor(fc.t, 60*time.Second, "a hit at "+origin, func() bool {
		resp, err := fc.nodes[origin].Search(context.Background(), customs, wire.SearchRequest{Serial: fmtSerial(country, i), Make: "glock"})
		if err == nil && len(resp.Results) > 0 {
			id = resp.Results[0].NotificationID
		}
		return id != ""
	})
	return id
}

// holdsAll says whether every one of names holds each hit of ids, once in its listing.
func (fc *fedCluster) holdsAll(names []string, ids []string) bool {
	for _, name := range names {
		page, err := fc.nodes[name].Hits(fc.admin(), wire.HitFilter{Limit: 1000})
		if err != nil {
			return false
		}
		seen := map[string]int{}
		for _, h := range page.Hits {
			seen[h.ID]++
		}
		for _, id := range ids {
			if seen[id] != 1 {
				return false
			}
		}
	}
	return true
}

func TestFederationGSInboxIsOneOnEveryCentralNode(t *testing.T) {
	fc := startFederation(t, twoNodeNCBSpecs(), nil)
	fc.importAt("ncb-ke", auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}, fedRecords("KE", 0, 40))
	fc.importAt("ncb-fr", auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}, fedRecords("FR", 0, 40))
	testutil.WaitFor(t, 90*time.Second, "every member to converge", fc.converged)

	var all, fr []string
	for i := 0; i < 6; i++ {
		id := fc.searchHit("edge-cdg", "KE", i)
		all = append(all, id)
		id = fc.searchHit("edge-nbo", "FR", i)
		all, fr = append(all, id), append(fr, id)
	}
	// A hit made by a central node itself goes through the inbox too.
	id := fc.searchHit("lyon-2", "FR", 30)
	all, fr = append(all, id), append(fr, id)
	testutil.WaitFor(t, 90*time.Second, "every central node to list every hit once", func() bool { return fc.holdsAll(centrals, all) })
	testutil.WaitFor(t, 90*time.Second, "both FR nodes to list every FR hit once", func() bool { return fc.holdsAll([]string{"ncb-fr", "ncb-fr-2"}, fr) })
	for _, id := range all {
		gs := ""
		for _, c := range centrals {
			h, _ := fc.nodes[c].hits.Get(id)
			if gs == "" {
				gs = h.Receipts[notify.RoleGS]
			}
			if h.Receipts[notify.RoleGS] == "" || h.Receipts[notify.RoleGS] != gs {
				t.Fatalf("hit %s at %s: GS receipt %q, want the same commit time on every central node (%q)", id, c, h.Receipts[notify.RoleGS], gs)
			}
		}
	}

	// A central node away while hits are made catches up when it comes back, and lists them.
	fc.restart("lyon-3", func() {
		for i := 10; i < 14; i++ {
			all = append(all, fc.searchHit("edge-cdg", "KE", i))
		}
		testutil.WaitFor(t, 90*time.Second, "the two central nodes up to list the new hits", func() bool { return fc.holdsAll(centrals[:2], all) })
	})
	testutil.WaitFor(t, 90*time.Second, "lyon-3 to catch up", func() bool { return fc.holdsAll(centrals, all) })
}

func TestFederationDecisionIsTakenOnce(t *testing.T) {
	fc := startFederation(t, twoNodeNCBSpecs(), nil)
	frNCB := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}
	fc.importAt("ncb-fr", frNCB, fedRecords("FR", 0, 40))
	testutil.WaitFor(t, 90*time.Second, "every member to converge", fc.converged)
	fcNodes := []string{"ncb-fr", "ncb-fr-2"}
	everyone := append(append([]string{"edge-nbo"}, centrals...), fcNodes...)
	const races = 8
	for i := 0; i < races; i++ {
		id := fc.searchHit("edge-nbo", "FR", i)
		testutil.WaitFor(t, 90*time.Second, "both FR nodes and the GS to hold the hit", func() bool {
			return fc.holdsAll(append(fcNodes, centrals...), []string{id})
		})
		// The two nodes of the NCB decide differently at the same moment.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, name := range fcNodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A 503 (no central node committed it in time: a loaded machine) is sent again, as
				// a client does on Retry-After; it was not recorded.
				for try := 0; try < 20; try++ {
					_, errs[j] = fc.nodes[name].Decide(context.Background(), frNCB, id, wire.DecisionRequest{Decision: []string{"confirmed", "denied"}[j]})
					var we *wire.Error
					if !errors.As(errs[j], &we) || we.Kind != wire.Unavailable {
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		won := -1
		for j, err := range errs {
			var we *wire.Error
			switch {
			case err == nil && won == -1:
				won = j
			case err == nil:
				t.Fatalf("race %d: both decisions won", i)
			case !errors.As(err, &we) || we.Kind != wire.Conflict || we.Code != "already_decided":
				t.Fatalf("race %d: %s answered %v, want 200 or 409 already_decided", i, fcNodes[j], err)
			}
		}
		if won == -1 {
			t.Fatalf("race %d: no decision won: %v", i, errs)
		}
		want := []string{"confirmed", "denied"}[won]
		testutil.WaitFor(t, 90*time.Second, fmt.Sprintf("race %d: %s on every node and at the origin", i, want), func() bool {
			for _, name := range everyone {
				h, err := fc.nodes[name].hits.Get(id)
				if err != nil || h.Decision != want || h.DecidedVia != fcNodes[won] {
					return false
				}
			}
			return true
		})
		// The same decision again is answered as the first; the other one is refused again.
		if _, err := fc.nodes[fcNodes[1-won]].Decide(context.Background(), frNCB, id, wire.DecisionRequest{Decision: want}); err != nil {
			t.Fatalf("race %d: the decision in force sent again: %v", i, err)
		}
	}

	// Without the central nodes no decision is recorded: 503, to retry.
	id := fc.searchHit("edge-nbo", "FR", 20)
	testutil.WaitFor(t, 90*time.Second, "ncb-fr to hold the hit", func() bool { return fc.holdsAll([]string{"ncb-fr"}, []string{id}) })
	n := fc.nodes["ncb-fr"]
	for _, c := range centrals {
		n.fed.faults.Cut(n.fed.id.ID, fc.nodes[c].fed.id.ID)
	}
	_, err := n.Decide(context.Background(), frNCB, id, wire.DecisionRequest{Decision: "confirmed"})
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.Unavailable || we.RetryAfter == 0 {
		t.Fatalf("decision without the central nodes: %v, want 503 with Retry-After", err)
	}
	if h, _ := n.hits.Get(id); h.Decision != notify.Pending {
		t.Fatalf("decision without the central nodes was recorded: %+v", h)
	}
	n.fed.faults.HealAll()
}

// TestFederationGSHitsOfAnOlderReleaseJoinTheInbox: a central node whose store holds GS hits it
// stored alone (as a release before the inbox did) hands them to the inbox when it starts, each
// with the time it first stored it, and every central node then lists them.
func TestFederationGSHitsOfAnOlderReleaseJoinTheInbox(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	var dataDir string
	for _, c := range fc.layout.Configs {
		if c.Name == "lyon-3" {
			dataDir = c.DataDir
		}
	}
	stored := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var ids []string
	fc.restart("lyon-3", func() {
		db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		key, _, err := seal.ReadKey(dataDir, nil) // its data dir is encrypted: the hits are sealed as the node's are
		if err != nil {
			t.Fatal(err)
		}
		old, err := notify.OpenSealed(db, func() time.Time { return stored }, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			h := notify.Hit{ID: fmt.Sprintf("h-old-%d", i), RecordID: "FR-1", RecordingCountry: "FR", Origin: "edge-cdg",
				SearchedAt: stored.Add(-time.Minute), Decision: notify.Pending}
			if _, err := old.Receive(h, notify.RoleGS); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, h.ID)
		}
		// As an older release left it: no record of a migration.
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("inbox_meta")).Delete([]byte("migrated")) }); err != nil {
			t.Fatal(err)
		}
	})
	testutil.WaitFor(t, 90*time.Second, "every central node to list lyon-3's old GS hits", func() bool { return fc.holdsAll(centrals, ids) })
	for _, c := range centrals {
		h, _ := fc.nodes[c].hits.Get(ids[0])
		if h.Receipts[notify.RoleGS] != stored.Format(time.RFC3339Nano) {
			t.Fatalf("%s: GS receipt %q, want the time lyon-3 first stored it (%s)", c, h.Receipts[notify.RoleGS], stored.Format(time.RFC3339Nano))
		}
	}
}
