package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// hostile holds -conns connections to a node from -from (another loopback address stands for
// another host) for -duration: half sit idle, half send the headers of a 200 KB body and then
// nothing, a byte every few seconds at most. Each connection the node closes (a timeout, the
// connection limit) is opened again at once, or after -backoff when it was refused at once (closed
// or reset within 200 ms, or reset before the dial returned). It prints one JSON object: how many
// were opened, how many the node closed at once (refused at accept) and how many later.
func hostile(args []string) error {
	fs := newFlags("hostile")
	addr := fs.String("addr", "127.0.0.1:8080", "node HOST:PORT (plain TCP: what is refused happens before TLS)")
	from := fs.String("from", "127.0.0.2", "local address to connect from")
	conns := fs.Int("conns", 1000, "connections to hold")
	duration := fs.Duration("duration", time.Minute, "how long")
	backoff := fs.Duration("backoff", 50*time.Millisecond, "wait after a connection the node refused at once")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(*from)}, Timeout: 5 * time.Second}
	var opened, refused, closedLater, dialErrs atomic.Int64
	var wg sync.WaitGroup
	for i := range *conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", *addr)
				if errors.Is(err, syscall.ECONNRESET) {
					// Reset at accept before the dial returned: refused at once like a close.
					opened.Add(1)
					refused.Add(1)
					time.Sleep(*backoff)
					continue
				}
				if err != nil {
					dialErrs.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				opened.Add(1)
				t0 := time.Now()
				if i%2 == 1 {
					fmt.Fprintf(c, "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{")
				}
				done := make(chan struct{})
				go func() {
					buf := make([]byte, 4096)
					for {
						if _, err := c.Read(buf); err != nil {
							close(done)
							return
						}
					}
				}()
				select {
				case <-ctx.Done():
					c.Close()
					<-done
					return
				case <-done:
					c.Close()
					if time.Since(t0) < 200*time.Millisecond {
						refused.Add(1)
						time.Sleep(*backoff)
					} else {
						closedLater.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"mode": "hostile", "conns": *conns, "seconds": duration.Seconds(),
		"opened": opened.Load(), "closed_at_once": refused.Load(), "closed_later": closedLater.Load(), "dial_errors": dialErrs.Load()})
}
