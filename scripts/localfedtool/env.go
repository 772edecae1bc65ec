package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fedarms/fedarms/config"
)

// settings are the knobs a drill or an operator may turn through the environment.
type settings struct {
	maxStaleness time.Duration // written into every node's config at layout time
	readyTimeout time.Duration // how long up and start wait for readiness
	stopTimeout  time.Duration // how long stop and down wait for a node to exit after SIGTERM
	logLevel     string        // the nodes' log level, at layout time
	plain        bool          // LOCALFED_PLAIN=1: the nodes serve plain HTTP (layout time)
	// p2pHost is the address members listen on for libp2p (LOCALFED_P2P_HOST, layout time):
	// 127.0.0.1 unless a member runs in a network namespace and must reach the others.
	p2pHost string
	// netns places members in network namespaces (LOCALFED_NETNS="NAME=NS@ADDR,...", layout
	// time): the member listens on ADDR inside NS, for HTTP and libp2p, and is started there.
	netns map[string]placement
	// snapshotThreshold and trailingLogs set every member's [raft] snapshot_threshold and
	// trailing_logs (LOCALFED_RAFT_SNAPSHOT_THRESHOLD, LOCALFED_RAFT_TRAILING_LOGS, layout time; 0
	// keeps the defaults): small values make a lagging holder catch up by snapshot.
	snapshotThreshold, trailingLogs uint64
	// netnsBandwidth is the [replication] max_bandwidth of the members placed in a namespace
	// (LOCALFED_NETNS_MAX_BANDWIDTH, layout time): a thin link's edge keeps replication below
	// the link's rate so that other traffic finds room.
	netnsBandwidth string
	// noFed (LOCALFED_NO_FED=1, layout time) makes no member a fed holder: edge-cdg holds europe
	// and africa as a raft non-voter, as before the tier (the thin-link drill's raft-log variant).
	noFed bool
}

// placement is a member's network namespace and its address there.
type placement struct{ ns, addr string }

// readEnv reads the LOCALFED_* variables, with defaults short enough for drills: a copy becomes
// stale 5 s after its last contact with the leader.
func readEnv(getenv func(string) string) (settings, error) {
	s := settings{maxStaleness: 5 * time.Second, readyTimeout: 90 * time.Second, stopTimeout: 30 * time.Second, logLevel: "info"}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"LOCALFED_MAX_STALENESS", &s.maxStaleness},
		{"LOCALFED_READY_TIMEOUT", &s.readyTimeout},
		{"LOCALFED_STOP_TIMEOUT", &s.stopTimeout},
	}
	for _, d := range durations {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed <= 0 {
			return s, fmt.Errorf("%s=%q: want a positive duration such as 5s or 2m", d.name, v)
		}
		*d.dst = parsed
	}
	s.plain = getenv("LOCALFED_PLAIN") == "1"
	s.noFed = getenv("LOCALFED_NO_FED") == "1"
	s.p2pHost = "127.0.0.1"
	if v := getenv("LOCALFED_P2P_HOST"); v != "" {
		if net.ParseIP(v).To4() == nil {
			return s, fmt.Errorf("LOCALFED_P2P_HOST=%q: want an IPv4 address", v)
		}
		s.p2pHost = v
	}
	for _, k := range []struct {
		name string
		dst  *uint64
	}{{"LOCALFED_RAFT_SNAPSHOT_THRESHOLD", &s.snapshotThreshold}, {"LOCALFED_RAFT_TRAILING_LOGS", &s.trailingLogs}} {
		if v := getenv(k.name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				return s, fmt.Errorf("%s=%q: want a positive number of log entries", k.name, v)
			}
			*k.dst = n
		}
	}
	if v := getenv("LOCALFED_NETNS_MAX_BANDWIDTH"); v != "" {
		if _, err := config.ParseBandwidth(v); err != nil {
			return s, fmt.Errorf("LOCALFED_NETNS_MAX_BANDWIDTH=%q: %w", v, err)
		}
		s.netnsBandwidth = v
	}
	if v := getenv("LOCALFED_NETNS"); v != "" {
		s.netns = map[string]placement{}
		for _, item := range strings.Split(v, ",") {
			name, rest, ok1 := strings.Cut(item, "=")
			ns, addr, ok2 := strings.Cut(rest, "@")
			if !ok1 || !ok2 || name == "" || ns == "" || net.ParseIP(addr).To4() == nil {
				return s, fmt.Errorf("LOCALFED_NETNS=%q: want NAME=NS@IPV4[,...]", v)
			}
			s.netns[name] = placement{ns: ns, addr: addr}
		}
	}
	if v := getenv("LOCALFED_LOG_LEVEL"); v != "" {
		switch v {
		case "debug", "info", "warn", "error":
			s.logLevel = v
		default:
			return s, fmt.Errorf("LOCALFED_LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}
	return s, nil
}
