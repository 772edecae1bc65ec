package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/synth"
)

// BenchmarkSearchHTTP measures searches over HTTP on loopback with 4 concurrent clients, as an
// officer's terminal would send them: 99 of 100 serials are not recorded (hits are rare), the audit
// entry is durable before the answer ("sync", the default) or not ("async"). It reports searches/s;
// a profile of the server side comes with -cpuprofile.
//
//	go test -run XXX -bench SearchHTTP -benchtime 20000x ./node
func BenchmarkSearchHTTP(b *testing.B) {
	for _, durability := range []string{"sync", "async"} {
		b.Run("audit="+durability, func(b *testing.B) {
			tn := startNode(&testing.T{}, b.TempDir(), func(c *config.Config) { c.Audit.Durability = durability })
			defer tn.srv.Close()
			defer tn.Close()
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			synth.WriteJSONLines(w, 20000, 5)
			w.Flush()
			req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/import", &buf)
			req.Header.Set("Authorization", "Bearer "+tn.tokens["admin"])
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("import: %v %v", err, resp)
			}
			resp.Body.Close()
			recs := serialsOf(b, tn.Node, 2000)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
			token := "Bearer " + tn.tokens["wco"]
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for range 4 {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						serial := fmt.Sprintf("QZ%07dX", i)
						if i%100 == 0 {
							serial = recs[int(i)%len(recs)].Serial
						}
						req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/search", strings.NewReader(`{"serial":"`+serial+`"}`))
						req.Header.Set("Authorization", token)
						req.Header.Set("Content-Type", "application/json")
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("search: %s", resp.Status)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "searches/s")
		})
	}
}
