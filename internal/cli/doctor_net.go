package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/fedarms/fedarms/internal/version"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// Clock skew against the central nodes beyond these is a warning, then a failure: hit deadlines,
// staleness, roster serials and audit times are compared across nodes.
const (
	skewWarn = 5 * time.Second
	skewFail = time.Minute
)

// centralEntries are the roster's central members (the voters, which also run the relays).
func (d *doctor) centralEntries() []transport.Entry {
	if d.cfg.Federation == nil {
		return nil
	}
	entries, err := fedplan.LoadRoster(d.cfg.Federation.RosterFile)
	if err != nil {
		return nil
	}
	var out []transport.Entry
	for _, se := range entries {
		if se.Entry.Role == transport.RoleCentral && se.Entry.Name != d.cfg.Name {
			out = append(out, se.Entry)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// tcpTarget turns a TCP multiaddr (/ip4, /ip6 or /dns with /tcp) into host:port; ok is false for
// other transports (QUIC is UDP and cannot be probed without a handshake).
func tcpTarget(s string) (string, bool) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return "", false
	}
	port, err := m.ValueForProtocol(ma.P_TCP)
	if err != nil {
		return "", false
	}
	for _, p := range []int{ma.P_IP4, ma.P_IP6, ma.P_DNS4, ma.P_DNS6, ma.P_DNS} {
		if host, err := m.ValueForProtocol(p); err == nil {
			return net.JoinHostPort(host, port), true
		}
	}
	return "", false
}

// checkReachability dials every central node's TCP addresses and, when the node runs, adds how it
// is connected to each (direct or through a relay) from its member view.
func (d *doctor) checkReachability(ctx context.Context) finding {
	f := finding{Check: "reachability", Status: checkOK}
	centrals := d.centralEntries()
	if d.cfg.Federation == nil {
		f.Detail = "a one-node federation reaches nobody"
		return f
	}
	if len(centrals) == 0 && d.cfg.Role != "central" {
		return finding{Check: f.Check, Status: checkFail, Detail: "no central node in the roster to reach", Fix: "see roster"}
	}
	conns := d.memberConns(ctx)
	var notes, unreachable, relayed []string
	for _, c := range centrals {
		var tried []string
		direct := false
		for _, a := range c.Addrs {
			target, ok := tcpTarget(a)
			if !ok {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			t0 := time.Now()
			conn, err := d.dial(cctx, "tcp", target)
			cancel()
			if err == nil {
				conn.Close()
				direct = true
				tried = append(tried, fmt.Sprintf("%s ok in %s", target, time.Since(t0).Round(time.Millisecond)))
				break
			}
			tried = append(tried, fmt.Sprintf("%s: %s", target, shortNetErr(err)))
		}
		if len(tried) == 0 {
			tried = append(tried, "no TCP address in its entry")
		}
		note := c.Name + " (" + strings.Join(tried, ", ")
		if conn := conns[c.Name]; conn != "" {
			note += "; the node is connected " + conn
		}
		notes = append(notes, note+")")
		switch {
		case direct:
		case conns[c.Name] == "relayed" || conns[c.Name] == "direct":
			relayed = append(relayed, c.Name)
		default:
			unreachable = append(unreachable, c.Name)
		}
	}
	f.Detail = strings.Join(notes, "; ")
	if len(centrals) == 0 {
		f.Detail = "no other central node in the roster to reach"
	}
	fix := "let this site open outbound TCP and UDP to the central nodes' libp2p ports (as their roster entries list them, e.g. 4001) in the site's firewall or at the border's network provider; " +
		"test with: nc -vz HOST PORT"
	switch {
	case len(unreachable) > 0 && len(unreachable)+len(relayed) == len(centrals) && len(relayed) == 0:
		f.Status, f.Fix = checkFail, "no central node is reachable: "+fix
	case len(unreachable) > 0:
		f.Status, f.Fix = checkWarn, strings.Join(unreachable, ", ")+" not reachable: "+fix
	case len(relayed) > 0:
		f.Status, f.Fix = checkWarn, strings.Join(relayed, ", ")+" reached only through a relay or another path: "+fix
	}
	return f
}

func shortNetErr(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "refused"):
		return "connection refused"
	case strings.Contains(s, "timeout"), strings.Contains(s, "deadline"):
		return "no answer (filtered?)"
	case strings.Contains(s, "no route"), strings.Contains(s, "unreachable"):
		return "no route to host"
	}
	return s
}

// localAPI is the running node's API base URL (a wildcard listen address is asked on loopback).
// A node with a certificate serves HTTPS (trusted through --ca or $FEDARMS_CA).
func (d *doctor) localAPI() string {
	scheme := "http://"
	if d.cfg.TLS.CertFile != "" {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(d.cfg.HTTPAddr)
	if err != nil {
		return scheme + d.cfg.HTTPAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

func (d *doctor) getJSON(ctx context.Context, url, token string, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return resp, json.NewDecoder(resp.Body).Decode(out)
}

// memberConns is the running node's view of how it is connected to each member (empty when the
// node does not run or no operator token is readable).
func (d *doctor) memberConns(ctx context.Context) map[string]string {
	out := map[string]string{}
	ms, ok := d.members(ctx)
	if !ok {
		return out
	}
	for _, m := range ms {
		out[m.Name] = m.Conn
	}
	return out
}

func (d *doctor) members(ctx context.Context) ([]wire.Member, bool) {
	path := d.tokenFile
	if path == "" {
		path = d.cfg.DataDir + "/admin.token"
	}
	tok, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var out struct {
		Members []wire.Member `json:"members"`
	}
	if _, err := d.getJSON(ctx, d.localAPI()+"/v1/cluster/members", strings.TrimSpace(string(tok)), &out); err != nil {
		return nil, false
	}
	return out.Members, true
}

// centralHealth asks each --central URL for its health, noting the time its answer carries.
type centralAnswer struct {
	url     string
	version string
	skew    time.Duration
	rtt     time.Duration
	err     error
}

func (d *doctor) askCentrals(ctx context.Context) []centralAnswer {
	var out []centralAnswer
	for _, u := range d.centrals {
		u = strings.TrimRight(u, "/")
		a := centralAnswer{url: u}
		t0 := d.now()
		var h wire.Health
		resp, err := d.getJSON(ctx, u+"/v1/health", "", &h)
		t1 := d.now()
		a.rtt = t1.Sub(t0)
		if err != nil && resp == nil {
			a.err = err
			out = append(out, a)
			continue
		}
		a.version = h.Version
		if date, derr := http.ParseTime(resp.Header.Get("Date")); derr == nil {
			// The Date header has whole seconds: its middle is half a second later.
			mid := t0.Add(a.rtt / 2)
			a.skew = mid.Sub(date.Add(500 * time.Millisecond))
		} else {
			a.err = fmt.Errorf("no Date header: %w", derr)
		}
		out = append(out, a)
	}
	return out
}

// checkClock compares this machine's clock with the central nodes' (their HTTP Date), and says
// whether the kernel's clock is disciplined by NTP.
func (d *doctor) checkClock(ctx context.Context) finding {
	f := finding{Check: "clock", Status: checkOK}
	synced, err := d.ntpSync()
	sync := "the kernel says NTP synchronises the clock"
	if err != nil {
		sync = "NTP state unknown: " + err.Error()
	} else if !synced {
		sync = "the clock is NOT synchronised by NTP"
		f.Status, f.Fix = checkWarn, "enable time synchronisation: timedatectl set-ntp true (systemd-timesyncd) or install chrony, with the site's or the federation's NTP servers"
	}
	answers := d.askCentrals(ctx)
	if len(answers) == 0 {
		f.Detail = sync + "; not compared with the central nodes (give their API URLs with --central)"
		return f
	}
	var notes []string
	worst := time.Duration(0)
	for _, a := range answers {
		if a.err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", a.url, a.err))
			continue
		}
		shown := a.skew.Abs().Round(100 * time.Millisecond)
		if shown >= 10*time.Second {
			shown = shown.Round(time.Second) // the Date header has whole seconds
		}
		notes = append(notes, fmt.Sprintf("%s: this clock is %s %s (round trip %s)", a.url, shown, aheadBehind(a.skew), a.rtt.Round(time.Millisecond)))
		if a.skew.Abs()-a.rtt/2 > worst {
			worst = a.skew.Abs() - a.rtt/2
		}
	}
	f.Detail = sync + "; " + strings.Join(notes, "; ")
	fix := "set the clock right and keep it so: timedatectl set-ntp true (or chrony) with reachable NTP servers; a skewed clock marks fresh copies stale, misdates the audit log and hit deadlines"
	switch {
	case worst > skewFail:
		f.Status, f.Fix = checkFail, fix
	case worst > skewWarn:
		f.Status, f.Fix = checkWarn, fix
	}
	return f
}

func aheadBehind(d time.Duration) string {
	if d < 0 {
		return "behind"
	}
	return "ahead"
}

// checkRunning asks the node's own API for its health: whether it runs, which release it runs,
// and each shard's state (no leader, stale, halted) and the disk floor.
func (d *doctor) checkRunning(ctx context.Context) []finding {
	var h wire.Health
	if _, err := d.getJSON(ctx, d.localAPI()+"/v1/health", "", &h); err != nil {
		return []finding{{Check: "node", Status: checkWarn, Detail: "not answering on " + d.localAPI() + ": " + shortNetErr(err) + " (shard staleness not checked)",
			Fix: "start it: systemctl start fedarms; why it stopped: journalctl -u fedarms -e"}}
	}
	n := finding{Check: "node", Status: checkOK, Detail: fmt.Sprintf("%s (%s) running %s for %s, %d records, health %s", h.Node, h.Role, h.Version, time.Duration(h.Uptime)*time.Second, h.Records, h.Status)}
	if h.Version != version.Release() {
		n.Status, n.Fix = checkWarn, fmt.Sprintf("the node runs %s but this binary is %s: restart it (systemctl restart fedarms) to run the installed release", h.Version, version.Release())
	}
	s := finding{Check: "shards", Status: checkOK}
	var names, bad []string
	for name, c := range h.Checks {
		if !strings.HasPrefix(name, "shard:") && name != "disk" && name != "control" {
			continue
		}
		names = append(names, name)
		if c.Status != "ok" {
			bad = append(bad, fmt.Sprintf("%s %s: %s", name, c.Status, c.Detail))
		}
	}
	sort.Strings(names)
	sort.Strings(bad)
	s.Detail = strings.Join(names, ", ") + " ok"
	if len(bad) > 0 {
		s.Status, s.Detail = checkFail, strings.Join(bad, "; ")
		s.Fix = "a stale copy or no leader means the link to the central nodes is down or too thin (see reachability and clock); a halted shard says why (disk full: see disk); docs/operations.md, Alerts"
	}
	return []finding{n, s}
}

// checkRelease compares this binary's release with the central nodes' and the members'.
func (d *doctor) checkRelease(ctx context.Context) finding {
	f := finding{Check: "release", Status: checkOK}
	mine := version.Release()
	seen := map[string][]string{}
	for _, a := range d.askCentrals(ctx) {
		if a.err == nil && a.version != "" {
			seen[a.version] = append(seen[a.version], a.url)
		}
	}
	if ms, ok := d.members(ctx); ok {
		for _, m := range ms {
			if m.Role == "central" && m.Version != "" && !m.Self {
				seen[m.Version] = append(seen[m.Version], m.Name)
			}
		}
	}
	if len(seen) == 0 {
		f.Detail = "this binary is " + mine + "; the central nodes' release is not known (give --central, or run the node)"
		return f
	}
	var vs []string
	for v, who := range seen {
		vs = append(vs, fmt.Sprintf("%s on %s", v, strings.Join(who, ", ")))
	}
	sort.Strings(vs)
	f.Detail = "this binary is " + mine + "; central nodes run " + strings.Join(vs, "; ")
	if len(seen) > 1 || seen[mine] == nil {
		f.Status = checkWarn
		f.Fix = "a release is being rolled out, or this site was missed: install the release the central nodes run (docs/operations.md, Roll out a release)"
	}
	return f
}
