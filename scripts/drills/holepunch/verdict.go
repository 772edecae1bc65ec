package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// check runs a scenario's observations and prints the evidence and a VERDICT line. It fails when
// the federation did not work (ready, replication, gossip, reservations) or when the edges did not
// end as -expect says.
func check(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	dir := fs.String("dir", "", "the drill's federation directory")
	started := fs.Int64("started", 0, "when the edges were started, Unix milliseconds")
	expect := fs.String("expect", "direct", "how the edges should end up connected: direct or relayed")
	scenario := fs.String("scenario", "", "the scenario's name, for the VERDICT line")
	timeout := fs.Duration("timeout", 90*time.Second, "for ready, replicated, gossip and reservations")
	punch := fs.Duration("punch", 30*time.Second, "how long after the edges' start to wait for a direct connection")
	records := fs.Int("records", 500, "records to import at the hub and see replicated")
	copyTo := fs.String("out", "", "also write everything printed to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *copyTo != "" {
		f, err := os.Create(*copyTo)
		if err != nil {
			return err
		}
		defer f.Close()
		out = io.MultiWriter(out, f)
	}
	if *expect != "direct" && *expect != "relayed" {
		return usageError{"-expect is direct or relayed"}
	}
	p, err := readPlan(*dir)
	if err != nil {
		return err
	}
	c := &checker{p: p, out: out, t0: time.UnixMilli(*started)}
	if *started == 0 {
		c.t0 = time.Now()
	}
	for _, m := range p.Members {
		switch m.Name {
		case "hub":
			c.hub = m
		case "edge-a":
			c.a = m
		case "edge-b":
			c.b = m
		}
	}
	if *scenario == "" {
		*scenario = p.Family + "/" + p.Transport
	}
	return c.run(*scenario, *expect, *timeout, *punch, *records)
}

func (c *checker) run(scenario, expect string, timeout, punch time.Duration, records int) error {
	deadline := time.Now().Add(timeout)
	if err := c.waitReady(deadline); err != nil {
		return c.verdict(scenario, "FAILED", "not ready: "+err.Error())
	}
	readyAt := time.Now()
	c.say("ready: hub and both edges answer, every shard they hold has a leader (the hub added the edges)")
	took, err := c.replicate(records, deadline)
	if err != nil {
		return c.verdict(scenario, "FAILED", "replication: "+err.Error())
	}
	c.say("replicated: both edges hold the hub's europe and africa copies (equal digests) %.2fs after the import", took.Seconds())
	if err := c.gossip(deadline); err != nil {
		return c.verdict(scenario, "FAILED", "gossip: "+err.Error())
	}
	gossipAt := time.Now()
	c.say("gossip: every member sees the other two alive")
	ids, err := c.peerIDs()
	if err != nil {
		return c.verdict(scenario, "FAILED", err.Error())
	}
	var st [2]edgeStory
	err = poll(deadline, func() (bool, string) {
		if st, err = c.stories(ids); err != nil {
			return false, err.Error()
		}
		return !st[0].Reserved.IsZero() && !st[1].Reserved.IsZero(), "an edge logged no relay reservation on the hub"
	})
	if err != nil {
		return c.verdict(scenario, "FAILED", "relay reservations: "+err.Error())
	}
	c.say("relay reservations on hub: edge-a at %s, edge-b at %s", c.since(st[0].Reserved), c.since(st[1].Reserved))

	// How the edges reach each other: wait for both to report the other direct, or the deadline.
	var va, vb memberView
	punchDeadline := c.t0.Add(punch)
	_ = poll(punchDeadline, func() (bool, string) {
		a, errA := c.view(c.a)
		b, errB := c.view(c.b)
		if errA != nil || errB != nil {
			return false, "members"
		}
		va, vb = a["edge-b"], b["edge-a"]
		return va.Conn == "direct" && vb.Conn == "direct", ""
	})
	directAt := time.Now()
	if st, err = c.stories(ids); err != nil {
		return c.verdict(scenario, "FAILED", err.Error())
	}
	c.evidence(st, va, vb)

	times := fmt.Sprintf("ready %s, reservations %s/%s, gossip %s, %d records replicated in %.2fs",
		c.since(readyAt), c.since(st[0].Reserved), c.since(st[1].Reserved), c.since(gossipAt), records, took.Seconds())
	direct := va.Conn == "direct" && vb.Conn == "direct"
	got := "relayed"
	if direct {
		got = "direct"
	}
	var detail string
	if direct {
		punchedAt := earliest(st[0].PunchedAt, st[1].PunchedAt)
		if punchedAt.IsZero() {
			punchedAt = directAt
		}
		detail = fmt.Sprintf("DIRECT (hole punched at %s; relayed from %s, DCUtR from %s); %s; edge-a->edge-b %v, edge-b->edge-a %v",
			c.since(punchedAt), c.since(earliest(st[0].RelayedAt, st[1].RelayedAt)), c.since(earliest(st[0].DCUtRAt, st[1].DCUtRAt)),
			times, directAddrs(va.ConnAddrs), directAddrs(vb.ConnAddrs))
	} else {
		why := diagnose([2]string{"edge-a", "edge-b"}, st, fmt.Sprint(p2pPort))
		detail = fmt.Sprintf("RELAYED only, %s after the edges started (edge-a sees edge-b %s, edge-b sees edge-a %s); %s; why: %s",
			punch, va.Conn, vb.Conn, times, why)
		if va.Conn != "relayed" || vb.Conn != "relayed" {
			return c.verdict(scenario, "FAILED", "the edges are not even relayed to each other: "+detail)
		}
	}
	if got != expect {
		return c.verdict(scenario, "UNEXPECTED (wanted "+expect+")", detail)
	}
	return c.verdict(scenario, "as expected", detail)
}

// evidence prints what each edge's log and API say.
func (c *checker) evidence(st [2]edgeStory, va, vb memberView) {
	for i, name := range []string{"edge-a", "edge-b"} {
		s := st[i]
		c.say("%s: outside address seen by the hub %v (at %s); hole punching ready at %s (%d early relayed connection(s) reopened)",
			name, s.Observed, c.since(s.ObservedAt), c.since(s.PunchReady), s.Reconnected)
		c.say("%s: relayed to the other edge from %s; DCUtR from %s; %d punch dial(s) to %v; punched at %s",
			name, c.since(s.RelayedAt), c.since(s.DCUtRAt), s.Attempts, s.AttemptAddrs, c.since(s.PunchedAt))
		for _, f := range s.Failures {
			c.say("%s: DCUtR error: %s", name, f)
		}
	}
	c.say("GET /v1/cluster/members at edge-a: edge-b conn=%s conn_addrs=%v", va.Conn, va.ConnAddrs)
	c.say("GET /v1/cluster/members at edge-b: edge-a conn=%s conn_addrs=%v", vb.Conn, vb.ConnAddrs)
}

// verdict prints the scenario's VERDICT line; anything but "as expected" is an error.
func (c *checker) verdict(scenario, outcome, detail string) error {
	fmt.Fprintf(c.out, "VERDICT %s: %s: %s\n", scenario, outcome, detail)
	if outcome != "as expected" {
		return verdictError{strings.ToLower(strings.Fields(outcome)[0])}
	}
	return nil
}

// verdictError is a scenario that did not end as expected; its VERDICT line already says why.
type verdictError struct{ outcome string }

func (e verdictError) Error() string { return e.outcome }

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
