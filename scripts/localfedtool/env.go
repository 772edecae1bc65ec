package main

import (
	"fmt"
	"time"
)

// settings are the knobs a drill or an operator may turn through the environment.
type settings struct {
	maxStaleness time.Duration // written into every node's config at layout time
	readyTimeout time.Duration // how long up and start wait for readiness
	stopTimeout  time.Duration // how long stop and down wait for a node to exit after SIGTERM
	logLevel     string        // the nodes' log level, at layout time
	plain        bool          // LOCALFED_PLAIN=1: the nodes serve plain HTTP (layout time)
}

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
