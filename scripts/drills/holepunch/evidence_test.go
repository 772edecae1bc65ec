package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	peerA = "12D3KooWGkSquxYrjCrW4yD1V7hNkXmjBhsqwim6tysYrfjzKUEn"
	peerB = "12D3KooWEJmzkR3LNSDS711wFtUzevFwT8pLUeNo26xKwkMRQe8j"
	relay = "/ip6/3fff:77:1::1/tcp/4001/p2p/12D3KooWNRuGk2d4dkNpgTSzi21jGsvMPh8gQb26iAi9WYsZqCwF/p2p-circuit"
)

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// line is one JSON log line as an agent writes it, ms after base.
func line(ms int, logger, msg, fields string) string {
	l := ""
	if logger != "" {
		l = fmt.Sprintf(`,"logger":%q`, logger)
	}
	if fields != "" {
		fields = "," + fields
	}
	return fmt.Sprintf(`{"time":%q,"level":"DEBUG","msg":%q,"subsystem":"libp2p"%s%s}`,
		base.Add(time.Duration(ms)*time.Millisecond).Format(time.RFC3339Nano), msg, l, fields)
}

func events(t *testing.T, lines ...string) []logEvent {
	t.Helper()
	var out []logEvent
	for _, l := range lines {
		e, ok := parseEvent([]byte(l))
		if !ok {
			t.Fatalf("not parsed: %s", l)
		}
		out = append(out, e)
	}
	return out
}

func TestParseEventSkipsWhatIsNotAJSONLine(t *testing.T) {
	for _, l := range []string{"", "panic: boom", `{"time":`, "goroutine 1 [running]:"} {
		if _, ok := parseEvent([]byte(l)); ok {
			t.Errorf("parsed %q", l)
		}
	}
	e, ok := parseEvent([]byte(line(250, "p2p-holepunch", "hole punch successful", `"destination_peer":"x"`)))
	if !ok || e.Logger != "p2p-holepunch" || e.Msg != "hole punch successful" || !e.At.Equal(base.Add(250*time.Millisecond)) {
		t.Fatalf("parsed %+v", e)
	}
}

// A punched edge: its story has every step, in order, and only what concerns the other edge.
func TestStoryOfAPunchedEdge(t *testing.T) {
	evs := events(t,
		line(100, "observedaddrs", "added own observed listen addr", `"observed":"/ip6/3fff:77:a::1/tcp/4001"`),
		line(110, "observedaddrs", "added own observed listen addr", `"observed":"/ip6/3fff:77:a::1/tcp/4001"`),
		line(120, "", "relay reservation held", `"relay":"hub"`),
		line(150, "net/identify", "received identify message", `"remote_peer":"`+peerB+`","remote_multiaddr":"`+relay+`"`),
		line(160, "net/identify", "received identify message", `"remote_peer":"someone-else","remote_multiaddr":"`+relay+`"`),
		line(300, "p2p-holepunch", "Host now has a public address", `"addresses":["/ip6/fd00:10::2/tcp/4001"]`),
		line(301, "", "hole punching ready", `"relayed_to_reconnect":2`),
		line(700, "p2p-holepunch", "received hole punch request", `"peer":"`+peerB+`","addrs":["/ip6/3fff:77:b::1/tcp/4001"]`),
		line(701, "p2p-holepunch", "holepunchConnect", `"destination_peer":"`+peerB+`","addrs":["/ip6/3fff:77:b::1/tcp/4001"]`),
		line(705, "p2p-holepunch", "hole punch successful", `"destination_peer":"`+peerB+`"`),
	)
	s := story(evs, peerB)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"observed", s.ObservedAt, at(100)}, {"reserved", s.Reserved, at(120)}, {"relayed", s.RelayedAt, at(150)},
		{"ready", s.PunchReady, at(300)}, {"dcutr", s.DCUtRAt, at(700)}, {"punched", s.PunchedAt, at(705)},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s at %v, want %v", c.name, c.got, c.want)
		}
	}
	if !slices.Equal(s.Observed, []string{"/ip6/3fff:77:a::1/tcp/4001"}) || s.Reconnected != 2 || s.Attempts != 1 ||
		!slices.Equal(s.AttemptAddrs, []string{"/ip6/3fff:77:b::1/tcp/4001"}) || len(s.Failures) != 0 {
		t.Fatalf("story %+v", s)
	}
}

func TestStoryKeepsFailuresOnOneLine(t *testing.T) {
	evs := events(t, line(1, "p2p-holepunch", "hole punch attempt with peer failed",
		`"err":"failed to dial: all dials failed\n  * [/ip6/3fff:77:b::1/udp/65268/quic-v1] timeout: no recent network activity"`))
	s := story(evs, peerB)
	want := "failed to dial: all dials failed * [/ip6/3fff:77:b::1/udp/65268/quic-v1] timeout: no recent network activity"
	if !slices.Equal(s.Failures, []string{want}) {
		t.Fatalf("failures %q", s.Failures)
	}
}

func TestDiagnose(t *testing.T) {
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	ready := func(obs string) edgeStory {
		return edgeStory{Observed: []string{obs}, PunchReady: at(300), RelayedAt: at(100)}
	}
	for _, tc := range []struct {
		name    string
		a, b    edgeStory
		want    []string
		notWant []string
	}{
		{"private outside addresses (RFC 1918 public segment)",
			edgeStory{Observed: []string{"/ip4/10.77.0.10/tcp/4001"}}, edgeStory{Observed: []string{"/ip4/10.77.0.20/tcp/4001"}},
			[]string{"edge-a and edge-b", "/ip4/10.77.0.10/tcp/4001, /ip4/10.77.0.20/tcp/4001", "not public"}, []string{"learnt no"}},
		{"CGNAT outside address on one side", edgeStory{Observed: []string{"/ip4/100.64.1.2/udp/4001/quic-v1"}}, ready("/ip6/3fff:77:b::1/tcp/4001"),
			[]string{"of edge-a", "not public"}, []string{"edge-b"}},
		{"no observation at all", edgeStory{}, ready("/ip6/3fff:77:b::1/tcp/4001"), []string{"edge-a learnt no outside address"}, nil},
		{"public but never ready", edgeStory{Observed: []string{"/ip6/3fff:77:a::1/tcp/4001"}}, ready("/ip6/3fff:77:b::1/tcp/4001"),
			[]string{"edge-a had a public outside address"}, nil},
		{"relayed before either was ready: DCUtR never ran", ready("/ip6/3fff:77:a::1/tcp/4001"), ready("/ip6/3fff:77:b::1/tcp/4001"),
			[]string{"before either's hole punching service was ready", "never ran"}, nil},
		{"never relayed", edgeStory{Observed: []string{"/ip6/3fff:77:a::1/tcp/4001"}, PunchReady: at(1)},
			edgeStory{Observed: []string{"/ip6/3fff:77:b::1/tcp/4001"}, PunchReady: at(1)}, []string{"never connected to each other"}, nil},
		{"symmetric NAT: punches fail, ports moved",
			edgeStory{Observed: []string{"/ip6/3fff:77:a::1/udp/35199/quic-v1"}, PunchReady: at(1), RelayedAt: at(2), Attempts: 3,
				Failures: []string{"timeout: no recent network activity"}},
			edgeStory{Observed: []string{"/ip6/3fff:77:b::1/udp/4001/quic-v1"}, PunchReady: at(1), RelayedAt: at(2), Attempts: 3},
			[]string{"6 hole punch attempts failed (timeout: no recent network activity)", "symmetric NAT", "/ip6/3fff:77:a::1/udp/35199/quic-v1"},
			[]string{"3fff:77:b::1/udp/4001"}},
		{"punches fail with ports kept: no NAT blame", edgeStory{PunchReady: at(1), RelayedAt: at(2), Attempts: 1, Observed: []string{"/ip6/3fff:77:a::1/tcp/4001"}},
			edgeStory{PunchReady: at(1), Observed: []string{"/ip6/3fff:77:b::1/tcp/4001"}}, []string{"1 hole punch attempts failed"}, []string{"symmetric"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diagnose([2]string{"edge-a", "edge-b"}, [2]edgeStory{tc.a, tc.b}, "4001")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnosis lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("diagnosis has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		family, transport, ip, want string
		err                         bool
	}{
		{"ip6", "tcp", "fd00:10::2", "/ip6/fd00:10::2/tcp/4001", false},
		{"ip6", "quic", "3fff:77:1::1", "/ip6/3fff:77:1::1/udp/4001/quic-v1", false},
		{"ip4", "tcp", "10.77.0.1", "/ip4/10.77.0.1/tcp/4001", false},
		{"ip4", "webrtc", "10.77.0.1", "", true},
		{"ipx", "tcp", "10.77.0.1", "", true},
	} {
		got, err := listenAddr(tc.family, tc.transport, tc.ip)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("listenAddr(%s, %s, %s) = %q, %v", tc.family, tc.transport, tc.ip, got, err)
		}
	}
}
