package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/synth"
)

// The parts of the API answers the checker reads.
type (
	memberView struct {
		Name      string   `json:"name"`
		Status    string   `json:"status"`
		Self      bool     `json:"self"`
		Conn      string   `json:"conn"`
		ConnAddrs []string `json:"conn_addrs"`
	}
	shardView struct {
		Shard   string `json:"shard"`
		Leader  string `json:"leader"`
		Records uint64 `json:"records"`
		Digest  string `json:"digest"`
	}
)

// checker runs one scenario's observations against the running agents.
type checker struct {
	p   plan
	out io.Writer
	t0  time.Time // when the edges were started
	hub member
	a   member // edge-a
	b   member // edge-b
}

func (c *checker) since(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%.1fs", t.Sub(c.t0).Seconds())
}

func (c *checker) say(format string, args ...any) {
	fmt.Fprintf(c.out, "  [%5.1fs] %s\n", time.Since(c.t0).Seconds(), fmt.Sprintf(format, args...))
}

// poll calls f every 250 ms until it reports done or the deadline passes; the last reason is the
// error.
func poll(deadline time.Time, f func() (bool, string)) error {
	for {
		done, why := f()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// notReady says why a member is not ready yet ("" when it is): its API answers, its admin token
// is written and every shard it holds has a leader (for an edge: the hub has added it).
func notReady(m member) string {
	if err := nsCall(m, "GET", "/v1/health", false, nil, nil); err != nil {
		return "API not answering"
	}
	if _, err := os.Stat(m.TokenFile); err != nil {
		return "admin token not written yet"
	}
	var sh struct {
		Shards []shardView `json:"shards"`
	}
	if err := nsCall(m, "GET", "/v1/shards", true, nil, &sh); err != nil {
		return err.Error()
	}
	for _, s := range sh.Shards {
		if s.Leader == "" {
			return "no leader yet for " + s.Shard
		}
	}
	return ""
}

func (c *checker) shards(m member) (map[string]shardView, error) {
	var sh struct {
		Shards []shardView `json:"shards"`
	}
	if err := nsCall(m, "GET", "/v1/shards", true, nil, &sh); err != nil {
		return nil, err
	}
	out := map[string]shardView{}
	for _, s := range sh.Shards {
		out[s.Shard] = s
	}
	return out, nil
}

func (c *checker) view(m member) (map[string]memberView, error) {
	var mv struct {
		Members []memberView `json:"members"`
	}
	if err := nsCall(m, "GET", "/v1/cluster/members", true, nil, &mv); err != nil {
		return nil, err
	}
	out := map[string]memberView{}
	for _, v := range mv.Members {
		out[v.Name] = v
	}
	return out, nil
}

// waitReady waits until every member is ready.
func (c *checker) waitReady(deadline time.Time) error {
	return poll(deadline, func() (bool, string) {
		for _, m := range []member{c.hub, c.a, c.b} {
			if why := notReady(m); why != "" {
				return false, m.Name + ": " + why
			}
		}
		return true, ""
	})
}

// replicate imports n synthetic records at the hub and waits until both edges hold the same
// europe and africa copies as the hub (equal digests).
func (c *checker) replicate(n int, deadline time.Time) (time.Duration, error) {
	var body bytes.Buffer
	if err := synth.WriteJSONLines(&body, n, 7); err != nil {
		return 0, err
	}
	start := time.Now()
	var res struct {
		Accepted int `json:"accepted"`
	}
	if err := nsCall(c.hub, "POST", "/v1/import", true, body.Bytes(), &res); err != nil {
		return 0, fmt.Errorf("import at hub: %w", err)
	}
	c.say("imported %d records at hub (%d accepted)", n, res.Accepted)
	err := poll(deadline, func() (bool, string) {
		hub, err := c.shards(c.hub)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range []member{c.a, c.b} {
			sh, err := c.shards(e)
			if err != nil {
				return false, err.Error()
			}
			for _, name := range []string{"europe", "africa"} {
				if sh[name].Digest != hub[name].Digest {
					return false, fmt.Sprintf("%s holds %d %s records, the hub %d", e.Name, sh[name].Records, name, hub[name].Records)
				}
			}
		}
		return hub["europe"].Records+hub["africa"].Records > 0, "the hub holds no europe or africa record"
	})
	return time.Since(start), err
}

// gossip waits until every member sees the other two alive.
func (c *checker) gossip(deadline time.Time) error {
	return poll(deadline, func() (bool, string) {
		for _, m := range []member{c.hub, c.a, c.b} {
			v, err := c.view(m)
			if err != nil {
				return false, err.Error()
			}
			for _, o := range []member{c.hub, c.a, c.b} {
				if o.Name != m.Name && v[o.Name].Status != "alive" {
					return false, fmt.Sprintf("%s sees %s %q", m.Name, o.Name, v[o.Name].Status)
				}
			}
		}
		return true, ""
	})
}

// peerIDs reads each member's peer id from the hub's member list.
func (c *checker) peerIDs() (map[string]string, error) {
	var mv struct {
		Members []struct {
			Name   string `json:"name"`
			PeerID string `json:"peer_id"`
		} `json:"members"`
	}
	if err := nsCall(c.hub, "GET", "/v1/cluster/members", true, nil, &mv); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range mv.Members {
		out[m.Name] = m.PeerID
	}
	return out, nil
}

// stories reads both edges' logs.
func (c *checker) stories(ids map[string]string) ([2]edgeStory, error) {
	var out [2]edgeStory
	for i, pair := range [2][2]member{{c.a, c.b}, {c.b, c.a}} {
		evs, err := readEvents(pair[0].Log)
		if err != nil {
			return out, err
		}
		out[i] = story(evs, ids[pair[1].Name])
	}
	return out, nil
}

func directAddrs(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if !strings.Contains(a, "/p2p-circuit") {
			out = append(out, a)
		}
	}
	return out
}
