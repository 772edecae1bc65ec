package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Replication tunes how this node's copies of its shards travel.
type Replication struct {
	// MaxBandwidth caps this node's replication traffic (raft log entries and snapshots, as they
	// are on the wire, i.e. compressed), each way: "256kbit", "2Mbit", "64kB", "1MiB" (a "/s" is
	// allowed). Empty or "0" is no cap. Hit notifications, receipts, decisions, searches and health
	// are never held to it, so set it below the link's rate to keep room for them.
	MaxBandwidth string `toml:"max_bandwidth"`
	// Sources makes this node a fed holder of the shards it names (sources.go).
	Sources map[string][]string `toml:"sources"`
	// CopyResumeWait is how long a fed holder holding part of a copy waits for the source it began
	// with before resuming it from the next source, which then sends only what differs (default
	// 20s when unset).
	CopyResumeWait Duration `toml:"copy_resume_wait"`
}

// MinBandwidth is the lowest cap a node accepts, in bytes per second (32 kbit/s): below it raft's
// heartbeats to a handful of shards would take most of the link.
const MinBandwidth = 4000

// MaxBandwidthBytes is MaxBandwidth in bytes per second, 0 for no cap; a file Parse accepted always
// has a valid one.
func (r Replication) MaxBandwidthBytes() int64 {
	n, _ := ParseBandwidth(r.MaxBandwidth)
	return n
}

// bandwidthUnits are the units ParseBandwidth knows, in bytes per second per unit. Bits are
// decimal, as link rates are sold; bytes are decimal (kB, MB, GB) or binary (KiB, MiB, GiB).
var bandwidthUnits = map[string]float64{
	"bit": 1.0 / 8, "kbit": 1e3 / 8, "Mbit": 1e6 / 8, "Gbit": 1e9 / 8,
	"bps": 1.0 / 8, "kbps": 1e3 / 8, "Mbps": 1e6 / 8, "Gbps": 1e9 / 8,
	"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
}

// ParseBandwidth reads a rate such as "256kbit", "1.5Mbit/s" or "64kB" into bytes per second.
// Empty and "0" are 0 (no cap); a number needs a unit, since bits and bytes differ eightfold.
func ParseBandwidth(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	unit := strings.TrimSuffix(strings.TrimLeft(s, "0123456789."), "/s")
	num := strings.TrimSpace(s[:len(s)-len(strings.TrimLeft(s, "0123456789."))])
	per, ok := bandwidthUnits[strings.TrimSpace(unit)]
	if !ok {
		return 0, fmt.Errorf("not a rate like 256kbit, 2Mbit or 64kB: %q (units: bit, kbit, Mbit, Gbit, B, kB, MB, GB, KiB, MiB, GiB)", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a rate like 256kbit, 2Mbit or 64kB: %q", s)
	}
	bytes := v * per
	if bytes >= math.MaxInt64/2 {
		return 0, fmt.Errorf("rate %q is out of range", s)
	}
	return int64(math.Round(bytes)), nil
}

// validate checks the replication settings.
func (r Replication) validate() []Problem {
	n, err := ParseBandwidth(r.MaxBandwidth)
	switch {
	case err != nil:
		return []Problem{{Field: "replication.max_bandwidth", Value: r.MaxBandwidth, Message: err.Error()}}
	case n > 0 && n < MinBandwidth:
		return []Problem{{Field: "replication.max_bandwidth", Value: r.MaxBandwidth,
			Message: fmt.Sprintf("is %d bytes/s, below the least a node runs on (32kbit); use 0 for no cap", n)}}
	}
	return nil
}
