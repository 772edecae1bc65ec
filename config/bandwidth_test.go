package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBandwidth(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"", 0}, {"0", 0}, {" 0 ", 0},
		{"256kbit", 32000}, {"512kbit/s", 64000}, {"256 kbit", 32000}, {"1.5Mbit", 187500}, {"1Gbit", 125e6},
		{"64kbps", 8000}, {"2Mbps", 250000},
		{"64kB", 64000}, {"64KB", 64000}, {"1MB/s", 1e6}, {"100B", 100},
		{"64KiB", 65536}, {"1MiB", 1 << 20}, {"1GiB", 1 << 30},
	} {
		got, err := ParseBandwidth(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"256", "256k", "fast", "kbit", "-5kbit", "1..2Mbit", "5 Mbit per second", "1e30Gbit", "256kb"} {
		if got, err := ParseBandwidth(in); err == nil {
			t.Errorf("ParseBandwidth(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseMaxBandwidth(t *testing.T) {
	c, err := Parse(strings.NewReader("version = 1\n[replication]\nmax_bandwidth = \"256kbit\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Replication.MaxBandwidthBytes(); got != 32000 {
		t.Fatalf("max_bandwidth 256kbit read as %d bytes/s, want 32000", got)
	}
	if d := Default(); d.Replication.MaxBandwidthBytes() != 0 {
		t.Fatalf("the default caps replication at %d bytes/s", d.Replication.MaxBandwidthBytes())
	}
	for _, bad := range []string{`"256"`, `"16kbit"`, `"lots"`} {
		_, err := Parse(strings.NewReader("version = 1\n[replication]\nmax_bandwidth = " + bad + "\n"))
		var ps *Problems
		if !errors.As(err, &ps) || len(ps.List) != 1 || ps.List[0].Field != "replication.max_bandwidth" {
			t.Errorf("max_bandwidth = %s: %v, want one problem naming replication.max_bandwidth", bad, err)
		}
	}
}
