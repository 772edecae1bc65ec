package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// tool runs one command against the federation in dir.
type tool struct {
	dir string
	bin string // the fedarms binary
	out io.Writer
	env settings
}

// up lays the federation out on first use, starts every member that is not running and waits
// until all are ready. Run again on a running federation, it only checks and rewrites
// federation.json.
func (t *tool) up() error {
	t0 := time.Now()
	ms, err := loadMembers(t.dir)
	if errors.Is(err, errNotLaidOut) {
		if err := checkEmpty(t.dir); err != nil {
			return err
		}
		if err := layOut(t.dir, t.env); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "laid out a federation in %s (max_staleness %v)\n", t.dir, t.env.maxStaleness)
		ms, err = loadMembers(t.dir)
	}
	if err != nil {
		return err
	}
	started := 0
	for _, m := range ms {
		if pid, ok := running(m); ok {
			fmt.Fprintf(t.out, "%-9s already running (pid %d)\n", m.Name, pid)
			continue
		}
		if _, err := launch(t.bin, m); err != nil {
			return err
		}
		started++
	}
	if err := waitReady(ms, t.env.readyTimeout); err != nil {
		return fmt.Errorf("federation in %s: %w\n(nodes that did start are still running: localfed down %s stops them)", t.dir, err, t.dir)
	}
	took := time.Since(t0)
	f := describe(ms, t.pids(ms))
	if started > 0 {
		f.ReadySeconds = roundSeconds(took)
	}
	if err := writeFedFile(t.dir, f); err != nil {
		return err
	}
	t.table(ms)
	fmt.Fprintf(t.out, "federation ready: %d nodes (%d started) in %.1fs; %s\n", len(ms), started, took.Seconds(),
		filepath.Join(t.dir, "federation.json"))
	return nil
}

// checkEmpty refuses to lay a federation out over unrelated files; bin/ (the wrapper's build) is
// allowed.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "bin" {
			return fmt.Errorf("%s is not empty and holds no federation (no roster.json); use an empty or new DIR", dir)
		}
	}
	return nil
}

func roundSeconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// down stops every member at once and waits for all to exit.
func (t *tool) down() error {
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	was := make([]bool, len(ms))
	for i, m := range ms {
		wg.Go(func() { was[i], errs[i] = signalAndWait(m, syscall.SIGTERM, t.env.stopTimeout) })
	}
	wg.Wait()
	for i, m := range ms {
		switch {
		case errs[i] != nil:
		case was[i]:
			fmt.Fprintf(t.out, "%-9s stopped\n", m.Name)
		default:
			fmt.Fprintf(t.out, "%-9s was not running\n", m.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return writeFedFile(t.dir, describe(ms, nil))
}

// stop sends SIGTERM to one member and waits for a clean exit.
func (t *tool) stop(name string) error {
	return t.signal(name, syscall.SIGTERM, t.env.stopTimeout, "stopped")
}

// kill sends SIGKILL to one member, as a crash or a power cut would.
func (t *tool) kill(name string) error {
	return t.signal(name, syscall.SIGKILL, 10*time.Second, "killed")
}

func (t *tool) signal(name string, sig syscall.Signal, timeout time.Duration, done string) error {
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	m, err := find(ms, name)
	if err != nil {
		return err
	}
	was, err := signalAndWait(m, sig, timeout)
	if err != nil {
		return err
	}
	if !was {
		fmt.Fprintf(t.out, "%s was not running\n", name)
	} else {
		fmt.Fprintf(t.out, "%s %s\n", name, done)
	}
	return writeFedFile(t.dir, describe(ms, t.pids(ms)))
}

// start starts one member again on its config and data, and waits until it is ready.
func (t *tool) start(name string) error {
	t0 := time.Now()
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	m, err := find(ms, name)
	if err != nil {
		return err
	}
	if pid, ok := running(m); ok {
		fmt.Fprintf(t.out, "%s already running (pid %d)\n", name, pid)
		return nil
	}
	pid, err := launch(t.bin, m)
	if err != nil {
		return err
	}
	if err := writeFedFile(t.dir, describe(ms, t.pids(ms))); err != nil {
		return err
	}
	if err := waitReady([]member{m}, t.env.readyTimeout); err != nil {
		return fmt.Errorf("%s started (pid %d) but %w", name, pid, err)
	}
	fmt.Fprintf(t.out, "%s started (pid %d), ready in %.1fs\n", name, pid, time.Since(t0).Seconds())
	return nil
}

// fault cuts or heals through the nodes' fault switches. Without a peer, cut isolates the node from
// every member, and heal lifts everything in force on it: its isolation and its pair cuts, on its
// side and on every other running member's side. With a peer, the pair is cut or healed on both
// sides (the peer's side best effort, as it may be down), so the cut holds whichever side dials.
func (t *tool) fault(name, peer string, cut bool) error {
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	m, err := find(ms, name)
	if err != nil {
		return err
	}
	if _, ok := running(m); !ok {
		return fmt.Errorf("%s is not running (localfed start DIR %s)", name, name)
	}
	var others []member
	action := map[bool]string{true: "isolate", false: "heal_all"}[cut]
	if peer != "" {
		p, err := find(ms, peer)
		if err != nil {
			return err
		}
		if p.Name == m.Name {
			return fmt.Errorf("cannot cut %s from itself", name)
		}
		action = map[bool]string{true: "cut", false: "heal"}[cut]
		others = []member{p}
	} else if !cut {
		for _, o := range ms {
			if o.Name != m.Name {
				others = append(others, o)
			}
		}
	}
	if err := call(m, "POST", "/v1/debug/faults", map[string]string{"action": action, "peer": peer}, nil); err != nil {
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	for _, o := range others {
		if _, ok := running(o); !ok {
			continue
		}
		if err := call(o, "POST", "/v1/debug/faults", map[string]string{"action": map[bool]string{true: "cut", false: "heal"}[cut], "peer": m.Name}, nil); err != nil {
			fmt.Fprintf(t.out, "warning: on %s's side: %v\n", o.Name, err)
		}
	}
	what := map[bool]string{true: "cut off from every member", false: "healed with every member"}[cut]
	if peer != "" {
		what = map[bool]string{true: "cut from ", false: "healed with "}[cut] + peer
	}
	fmt.Fprintf(t.out, "%s %s\n", name, what)
	return nil
}

// pids maps each running member to its pid.
func (t *tool) pids(ms []member) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		if pid, ok := running(m); ok {
			out[m.Name] = pid
		}
	}
	return out
}

// status prints one line per member: process, health and each shard's leader and progress.
func (t *tool) status() error {
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	t.table(ms)
	return nil
}

func (t *tool) table(ms []member) {
	tw := tabwriter.NewWriter(t.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tCOUNTRY\tPID\tAPI\tHEALTH\tSHARDS (leader applied records)")
	for _, m := range ms {
		pid, ok := running(m)
		state, sh := "stopped", ""
		if ok {
			var h health
			if err := call(m, "GET", "/v1/health", nil, &h); err != nil {
				state = "not answering"
			} else {
				state = h.Status
			}
			if ss, err := shards(m); err == nil {
				var parts []string
				for _, s := range ss {
					stale := ""
					if s.Stale {
						stale = " STALE"
					}
					parts = append(parts, fmt.Sprintf("%s(%s %d %d%s)", s.Shard, leaderOrSource(s), s.AppliedIndex, s.Records, stale))
				}
				sh = strings.Join(parts, " ")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Role, orDash(m.Country), pidText(pid, ok), m.API, state, sh)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pidText(pid int, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprint(pid)
}

// leaderOrSource is how the status line names where a shard's copy comes from: its leader, or
// "fed:SOURCE" for a fed holder.
func leaderOrSource(s shardStatus) string {
	if s.Role == "fed" {
		return "fed:" + orDash(s.Source)
	}
	return orDash(s.Leader)
}
