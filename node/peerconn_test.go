package node

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestConnKind(t *testing.T) {
	const (
		relay = "12D3KooWGRUVh6gQdU4BAVz5vTzKPyHMYvKTbWh1cr5sKYJvYc5X"
		tcp   = "/ip4/198.51.100.7/tcp/4001"
		quic  = "/ip6/3fff:77::a/udp/4001/quic-v1"
	)
	circuit := "/ip6/3fff:77::1/tcp/4001/p2p/" + relay + "/p2p-circuit"
	for _, tc := range []struct {
		name    string
		remotes []string
		want    string
	}{
		{"no connection", nil, ConnNone},
		{"one direct tcp", []string{tcp}, ConnDirect},
		{"one direct quic", []string{quic}, ConnDirect},
		{"only a circuit", []string{circuit}, ConnRelayed},
		{"two circuits through different relays", []string{circuit, "/ip4/10.0.0.1/udp/4001/quic-v1/p2p/" + relay + "/p2p-circuit"}, ConnRelayed},
		{"circuit then hole punched", []string{circuit, quic}, ConnDirect},
		{"direct then circuit", []string{tcp, circuit}, ConnDirect},
		// The relay's own address is direct: only the circuit marker makes a connection relayed.
		{"a dial to the relay itself", []string{"/ip6/3fff:77::1/tcp/4001/p2p/" + relay}, ConnDirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var remotes []ma.Multiaddr
			for _, s := range tc.remotes {
				remotes = append(remotes, ma.StringCast(s))
			}
			if got := connKind(remotes); got != tc.want {
				t.Fatalf("connKind(%v) = %q, want %q", tc.remotes, got, tc.want)
			}
		})
	}
}
