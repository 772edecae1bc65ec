package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// abuse sends, for -duration, the requests of a hostile client beside benchtool hostile's
// connections, each from its own local address (another host) and on a new connection, at fixed
// rates so that runs compare: -bodies a second alternately a 2 MB body and a malformed one (a key
// given twice in another case, then garbage) to /v1/search with the -token-file's token, and
// -scrapes a second a broad query (three digits and a make, limit 100) with the -scrape-token, a
// searcher token paging through the register. A request that has not started by its tick, more
// than 64 being in flight, is counted as skipped. It prints one JSON object with the counts by
// answer.
func abuse(args []string) error {
	fs := newFlags("abuse")
	addr := fs.String("addr", "http://127.0.0.1:8080", "node address")
	tokenFile := fs.String("token-file", "", "token for the oversize and malformed bodies")
	scrapeToken := fs.String("scrape-token", "", "searcher token that scrapes")
	bodiesFrom := fs.String("bodies-from", "127.0.0.3", "local address of the bodies")
	scrapeFrom := fs.String("scrape-from", "127.0.0.4", "local address of the scraper")
	bodies := fs.Float64("bodies", 100, "oversize and malformed bodies a second")
	scrapes := fs.Float64("scrapes", 100, "scraping searches a second")
	duration := fs.Duration("duration", time.Minute, "how long")
	fs.Parse(args)
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	big := bytes.Repeat([]byte{'x'}, 2_000_000)
	var mu sync.Mutex
	counts := map[string]int{}
	count := func(k string) {
		mu.Lock()
		counts[k]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	loop := func(name, from string, rate float64, do func(c *http.Client, i int) string) {
		defer wg.Done()
		if rate <= 0 {
			return
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		var inFlight atomic.Int32
		var reqs sync.WaitGroup
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				reqs.Wait()
				return
			case <-tick.C:
			}
			if inFlight.Load() >= 64 {
				count(name + " skipped")
				continue
			}
			inFlight.Add(1)
			reqs.Add(1)
			go func(i int) {
				defer reqs.Done()
				defer inFlight.Add(-1)
				count(do(c, i))
			}(i)
		}
	}
	send := func(c *http.Client, tok string, body []byte) int {
		req, _ := http.NewRequest("POST", *addr+"/v1/search", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	wg.Add(2)
	go loop("bodies", *bodiesFrom, *bodies, func(c *http.Client, i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("oversize %d", send(c, token, big))
		}
		return fmt.Sprintf("malformed %d", send(c, token, []byte(`{"serial":"A","Serial":"B"}}`)))
	})
	go loop("scraper", *scrapeFrom, *scrapes, func(c *http.Client, i int) string {
		q := fmt.Sprintf(`{"serial":"%03d","make":"Beretta","limit":100}`, i%1000)
		return fmt.Sprintf("scraper %d", send(c, *scrapeToken, []byte(q)))
	})
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"mode": "abuse", "seconds": duration.Seconds(),
		"bodies_per_s": *bodies, "scrapes_per_s": *scrapes, "answers": counts})
}
