package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fedarms/fedarms/matcher"
)

// nodeSearch sends queries to a running node's POST /v1/search, so that the suite judges what the
// node answers over HTTP (its merge by score, its result lines) rather than the index alone.
type nodeSearch struct {
	url, token string
	client     *http.Client
}

// NodeSearch returns a Config.Search that sends every query to the node at addr (its admin token
// in tokenFile). The node must hold the records the suite generates: `fedarms gen --records N
// --seed S` imported into `fedarms dev --sample 0` (scripts/bench-matcher.sh does it with
// MATCHER_EVAL_HTTP=1); record ids are the generator's, so the ground truth is the same.
func NodeSearch(addr, tokenFile string) (func(matcher.Query) ([]matcher.Result, error), error) {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	n := &nodeSearch{url: strings.TrimRight(addr, "/") + "/v1/search", token: strings.TrimSpace(string(tok)),
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	return n.search, nil
}

// searchRequest and searchAnswer are the fields of the HTTP API's search the suite reads
// (CONTRACTS.md).
type searchRequest struct {
	Serial  string `json:"serial"`
	Make    string `json:"make,omitempty"`
	Model   string `json:"model,omitempty"`
	Calibre string `json:"calibre,omitempty"`
	Type    string `json:"type,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

type searchAnswer struct {
	Results []struct {
		ID     string      `json:"id"`
		Score  float64     `json:"score"`
		Hit    bool        `json:"hit"`
		Review bool        `json:"review"`
		Why    matcher.Why `json:"why"`
		Tie    int         `json:"tie"`
	} `json:"results"`
}

// search runs one query on the node and returns its results in the node's order.
func (n *nodeSearch) search(q matcher.Query) ([]matcher.Result, error) {
	body, err := json.Marshal(searchRequest{Serial: q.Serial, Make: q.Make, Model: q.Model, Calibre: q.Calibre,
		Type: q.Type, Limit: q.Limit})
	if err != nil {
		return nil, fmt.Errorf("encode search: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("search: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var ans searchAnswer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	out := make([]matcher.Result, len(ans.Results))
	for i, r := range ans.Results {
		out[i] = matcher.Result{Key: r.ID, Score: r.Score, Hit: r.Hit, Review: r.Review, Why: r.Why, Tie: r.Tie}
	}
	return out, nil
}
