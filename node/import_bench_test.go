package node

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/synth"
)

// BenchmarkImport measures POST /v1/import of synthetic records through raft into the state files
// and the index, against decoding the same lines alone (the floor any import pays), in a data dir
// encrypted at rest (atrest=sealed, the default) and in a plain one (storage.plain): with -count
// the two alternate, so their ratio is read from runs under the same load.
func BenchmarkImport(b *testing.B) {
	for _, n := range []int{20000, 100000} {
		for _, mode := range atRestModes {
			benchImport(b, n, mode)
		}
	}
}

// atRestModes are the two kinds of data dir the benchmarks compare.
var atRestModes = []string{"plain", "sealed"}

func atRestMode(mode string) func(*config.Config) {
	return func(c *config.Config) { c.Storage.Plain = mode == "plain" }
}

func benchImport(b *testing.B, n int, mode string) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := synth.WriteJSONLines(w, n, 3); err != nil {
		b.Fatal(err)
	}
	w.Flush()
	body := buf.Bytes()
	b.Run(fmt.Sprintf("records=%d/atrest=%s", n, mode), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			tn := startNode(&testing.T{}, b.TempDir(), atRestMode(mode))
			b.StartTimer()
			req := httptest.NewRequest("POST", "/v1/import", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tn.tokens["admin"])
			req.Header.Set("Content-Type", "application/x-ndjson")
			rec := httptest.NewRecorder()
			tn.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
			b.StopTimer()
			tn.srv.Close()
			tn.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
