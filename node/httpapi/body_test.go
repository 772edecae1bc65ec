package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// countingBody counts what the handler read of a body.
type countingBody struct {
	n    int
	body *strings.Reader
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.body.Read(p)
	c.n += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestOversizeBodyRefusedUnread: the soak's oversize bodies (2 MB, announced) cost the node no read
// and no buffer: the announced length is refused before a byte of the body is read, and over a
// connection the 413 comes back while the client has sent 16 bytes of 2,000,000, after which the
// connection is closed rather than the rest read and dropped.
func TestOversizeBodyRefusedUnread(t *testing.T) {
	fx := newFixture(t)
	body := &countingBody{body: strings.NewReader(`{"serial":"` + strings.Repeat("x", 4<<10) + `"}`)}
	r := httptest.NewRequest("POST", "/v1/search", nil)
	r.Body, r.ContentLength = body, int64(body.body.Len())
	r.Header.Set("Authorization", "Bearer searcher")
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	if w.Code != 413 || body.n != 0 {
		t.Fatalf("announced oversize body: %d after reading %d bytes, want 413 after none", w.Code, body.n)
	}

	srv := httptest.NewServer(fx.h)
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer searcher\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{\"serial\":\"xxxx")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer while the body is unsent: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("connection kept open after an oversize body, so the rest would be read and dropped")
	}
}
