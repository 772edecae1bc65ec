package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// logEvent is one line of an agent's JSON log. go-libp2p writes through the node's logger and tags
// its lines with the subsystem that wrote them ("logger": p2p-holepunch, observedaddrs, ...).
type logEvent struct {
	At     time.Time
	Msg    string
	Logger string
	Fields map[string]any
}

func (e logEvent) str(key string) string {
	s, _ := e.Fields[key].(string)
	return s
}

func (e logEvent) strs(key string) []string {
	vs, _ := e.Fields[key].([]any)
	var out []string
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// parseEvent reads one JSON log line; ok is false for anything else (a panic trace, a line cut
// short by a kill).
func parseEvent(line []byte) (logEvent, bool) {
	var f map[string]any
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &f) != nil {
		return logEvent{}, false
	}
	e := logEvent{Fields: f}
	e.Msg, _ = f["msg"].(string)
	e.Logger, _ = f["logger"].(string)
	ts, _ := f["time"].(string)
	e.At, _ = time.Parse(time.RFC3339Nano, ts)
	return e, true
}

// readEvents reads every JSON line of an agent's log.
func readEvents(path string) ([]logEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []logEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if e, ok := parseEvent(sc.Bytes()); ok {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// edgeStory is what one edge's log says about its outside address, its relay reservation and the
// hole punching towards the other edge.
type edgeStory struct {
	Observed     []string  // outside addresses identify reported to it, first seen first
	ObservedAt   time.Time // the first of them
	Reserved     time.Time // first relay reservation held
	PunchReady   time.Time // libp2p's hole punching service knew a public address of the edge's
	Reconnected  int       // relayed connections the transport closed when hole punching became ready
	RelayedAt    time.Time // first connection with the other edge through a relay
	DCUtRAt      time.Time // first DCUtR exchange with the other edge (initiated or received)
	Attempts     int       // direct dials made to punch through
	AttemptAddrs []string  // the other edge's addresses those dials went to
	PunchedAt    time.Time // first successful hole punch
	Failures     []string  // why DCUtR or a punch failed
}

// story reads an edge's log for what concerns hole punching towards peer other.
func story(events []logEvent, other string) edgeStory {
	var s edgeStory
	first := func(t *time.Time, at time.Time) {
		if t.IsZero() {
			*t = at
		}
	}
	for _, e := range events {
		switch {
		case e.Logger == "observedaddrs" && e.Msg == "added own observed listen addr":
			if a := e.str("observed"); a != "" && !slices.Contains(s.Observed, a) {
				s.Observed = append(s.Observed, a)
			}
			first(&s.ObservedAt, e.At)
		case e.Msg == "relay reservation held":
			first(&s.Reserved, e.At)
		case e.Logger == "p2p-holepunch" && e.Msg == "Host now has a public address":
			first(&s.PunchReady, e.At)
		case e.Msg == "hole punching ready":
			n, _ := e.Fields["relayed_to_reconnect"].(float64)
			s.Reconnected = int(n)
		case e.Logger == "net/identify" && e.str("remote_peer") == other && strings.Contains(e.str("remote_multiaddr"), "/p2p-circuit"):
			first(&s.RelayedAt, e.At)
		case e.Logger == "p2p-holepunch" && (e.Msg == "initiateHolePunch" && e.str("remote_peer") == other ||
			e.Msg == "received hole punch request" && e.str("peer") == other):
			first(&s.DCUtRAt, e.At)
		case e.Logger == "p2p-holepunch" && e.Msg == "holepunchConnect" && e.str("destination_peer") == other:
			s.Attempts++
			for _, a := range e.strs("addrs") {
				if !slices.Contains(s.AttemptAddrs, a) {
					s.AttemptAddrs = append(s.AttemptAddrs, a)
				}
			}
		case e.Logger == "p2p-holepunch" && e.Msg == "hole punch successful" && e.str("destination_peer") == other:
			first(&s.PunchedAt, e.At)
		case e.Logger == "p2p-holepunch" && (e.Msg == "hole punch attempt with peer failed" ||
			e.Msg == "attempt to perform DirectConnect failed" || e.Msg == "error handling holepunching stream"):
			// libp2p lists a dial's per-address errors on lines of their own; keep one line.
			if err := strings.Join(strings.Fields(e.str("err")), " "); err != "" && !slices.Contains(s.Failures, err) {
				s.Failures = append(s.Failures, err)
			}
		}
	}
	return s
}

// diagnose says why two edges did not end up directly connected, from their stories; listenPort
// is the port they listen on (a NAT that keeps ports maps it to the same port outside).
func diagnose(names [2]string, stories [2]edgeStory, listenPort string) string {
	// Group the edges whose service never started by cause, so a NAT both share is said once.
	var none, private, stuck []string
	var privAddrs, pubAddrs []string
	for i, s := range stories {
		if !s.PunchReady.IsZero() {
			continue
		}
		switch pub := publicAddrs(s.Observed); {
		case len(s.Observed) == 0:
			none = append(none, names[i])
		case len(pub) == 0:
			private = append(private, names[i])
			privAddrs = append(privAddrs, s.Observed...)
		default:
			stuck = append(stuck, names[i])
			pubAddrs = append(pubAddrs, pub...)
		}
	}
	var why []string
	if len(none) > 0 {
		why = append(why, fmt.Sprintf("%s learnt no outside address: identify keeps an observation only for a connection"+
			" dialled from a listen address (does the edge listen, on the transport it dials with?)", strings.Join(none, " and ")))
	}
	if len(private) > 0 {
		why = append(why, fmt.Sprintf("the outside address of %s as the hub sees it (%s) is not public, and libp2p offers"+
			" only public addresses for hole punching (manet.IsPublicAddr: RFC 1918, CGNAT 100.64/10, ULA and documentation"+
			" ranges are not), so DCUtR never started", strings.Join(private, " and "), strings.Join(privAddrs, ", ")))
	}
	if len(stuck) > 0 {
		why = append(why, fmt.Sprintf("%s had a public outside address (%s) but libp2p's hole punching service never"+
			" reported it ready", strings.Join(stuck, " and "), strings.Join(pubAddrs, ", ")))
	}
	if len(why) > 0 {
		return strings.Join(why, "; ")
	}
	a, b := stories[0], stories[1]
	if a.RelayedAt.IsZero() && b.RelayedAt.IsZero() {
		return "both edges were ready to punch, but they never connected to each other through the relay"
	}
	if a.Attempts+b.Attempts == 0 {
		fails := append(slices.Clone(a.Failures), b.Failures...)
		relayed := earliest(a.RelayedAt, b.RelayedAt)
		if len(fails) == 0 && a.DCUtRAt.IsZero() && b.DCUtRAt.IsZero() && relayed.Before(a.PunchReady) && relayed.Before(b.PunchReady) {
			return fmt.Sprintf("the edges connected through the relay (%s) before either's hole punching service was ready"+
				" (%s, %s); libp2p starts DCUtR only when a relayed connection arrives, and that connection was never"+
				" replaced, so DCUtR never ran", relayed.Format(time.TimeOnly+".000"), a.PunchReady.Format(time.TimeOnly+".000"),
				b.PunchReady.Format(time.TimeOnly+".000"))
		}
		if len(fails) == 0 {
			return "the edges were connected through the relay and ready to punch, but no DCUtR exchange was logged"
		}
		return "DCUtR did not reach a punch: " + strings.Join(fails, "; ")
	}
	msg := fmt.Sprintf("%d hole punch attempts failed", a.Attempts+b.Attempts)
	if fails := append(slices.Clone(a.Failures), b.Failures...); len(fails) > 0 {
		msg += " (" + fails[0] + ")"
	}
	if moved := portsMoved(append(slices.Clone(a.Observed), b.Observed...), listenPort); len(moved) > 0 {
		msg += fmt.Sprintf("; the NATs map the listen port %s to other ports outside (%s), a new one per destination"+
			" (endpoint-dependent mapping, a symmetric NAT): the address the hub saw is not the one the other edge"+
			" must reach, so the punched packets hit no mapping", listenPort, strings.Join(moved, ", "))
	}
	return msg
}

// publicAddrs keeps the addresses libp2p would offer for hole punching.
func publicAddrs(addrs []string) []string {
	var out []string
	for _, s := range addrs {
		if a, err := ma.NewMultiaddr(s); err == nil && manet.IsPublicAddr(a) {
			out = append(out, s)
		}
	}
	return out
}

// portsMoved lists the observed addresses whose port is not the listen port.
func portsMoved(addrs []string, listenPort string) []string {
	var out []string
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		port, err := a.ValueForProtocol(ma.P_TCP)
		if err != nil {
			port, err = a.ValueForProtocol(ma.P_UDP)
		}
		if err == nil && port != listenPort {
			out = append(out, s)
		}
	}
	return out
}
