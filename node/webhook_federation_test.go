package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/wire"
)

// nationalSystems receives the webhooks of several nodes, one path each (/NODE), checks each
// signature and keeps the first copy of each event id per node, in arrival order.
type nationalSystems struct {
	secret []byte
	mu     sync.Mutex
	events map[string][]string // node -> event ids, first copies
	bad    []string
}

func (s *nationalSystems) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(r.Header.Get("X-Fedarms-Timestamp") + "." + string(body)))
	var e struct{ ID, Kind string }
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || !hmac.Equal([]byte("sha256="+hex.EncodeToString(mac.Sum(nil))), []byte(r.Header.Get("X-Fedarms-Signature"))) ||
		json.Unmarshal(body, &e) != nil {
		s.bad = append(s.bad, r.URL.Path+": "+string(body))
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	node := strings.TrimPrefix(r.URL.Path, "/")
	if !slices.Contains(s.events[node], e.ID) {
		s.events[node] = append(s.events[node], e.ID)
	}
}

func (s *nationalSystems) of(node string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events[node])
}

// TestFederationWebhookPushesEachInbox: the central nodes push the GS inbox (every hit), the
// nodes of France's NCB France's hits, each hit before its decision; an edge pushes nothing.
func TestFederationWebhookPushesEachInbox(t *testing.T) {
	secret := []byte("gs-and-ncb-shared-test-secret-0123")
	recv := &nationalSystems{secret: secret, events: map[string][]string{}}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	pushing := []string{"lyon-1", "lyon-2", "ncb-fr", "ncb-fr-2"}
	fc := startFederation(t, twoNodeNCBSpecs(), func(c *config.Config) {
		if slices.Contains(pushing, c.Name) {
			c.Notify.Webhook = &config.Webhook{URL: srv.URL + "/" + c.Name, SecretFile: secretFile}
		}
	})
	frNCB := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}
	keNCB := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}
	fc.importAt("ncb-fr", frNCB, fedRecords("FR", 0, 10))
	fc.importAt("ncb-ke", keNCB, fedRecords("KE", 0, 10))
	testutil.WaitFor(t, 90*time.Second, "every member to converge", fc.converged)
	fr := []string{fc.searchHit("edge-cdg", "FR", 1), fc.searchHit("edge-nbo", "FR", 2)}
	ke := fc.searchHit("edge-cdg", "KE", 3)
	testutil.WaitFor(t, 90*time.Second, "both FR nodes and the GS to hold the hits", func() bool {
		return fc.holdsAll([]string{"ncb-fr", "ncb-fr-2"}, fr) && fc.holdsAll(centrals, append(slices.Clone(fr), ke))
	})
	for try := 0; ; try++ {
		_, err := fc.nodes["ncb-fr-2"].Decide(context.Background(), frNCB, fr[0], wire.DecisionRequest{Decision: "confirmed"})
		var we *wire.Error
		if err == nil || try == 20 || !errors.As(err, &we) || we.Kind != wire.Unavailable {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		time.Sleep(200 * time.Millisecond) // a loaded machine: no central quorum in time; sent again
	}
	want := map[string][]string{
		"lyon-1": {fr[0] + "/hit", fr[1] + "/hit", ke + "/hit", fr[0] + "/decision"},
		"ncb-fr": {fr[0] + "/hit", fr[1] + "/hit", fr[0] + "/decision"},
	}
	want["lyon-2"], want["ncb-fr-2"] = want["lyon-1"], want["ncb-fr"]
	testutil.WaitFor(t, 90*time.Second, "every pushing node's events at the receiver", func() bool {
		for node, ids := range want {
			got := recv.of(node)
			for _, id := range ids {
				if !slices.Contains(got, id) {
					return false
				}
			}
		}
		return true
	})
	for node, ids := range want {
		got := recv.of(node)
		if len(got) != len(ids) {
			t.Errorf("%s pushed %q, want %q (in any order of hits)", node, got, ids)
		}
		if slices.Index(got, fr[0]+"/decision") < slices.Index(got, fr[0]+"/hit") {
			t.Errorf("%s pushed the decision before its hit: %q", node, got)
		}
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.bad) > 0 {
		t.Errorf("refused: %q", recv.bad)
	}
	for node := range recv.events {
		if _, ok := want[node]; !ok {
			t.Errorf("%s pushed events without a webhook", node)
		}
	}
}
