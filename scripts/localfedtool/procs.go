package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readPID reads a member's pid file; 0 when there is none.
func readPID(m member) (int, error) {
	b, err := os.ReadFile(m.pidFile())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: not a pid: %q", m.pidFile(), b)
	}
	return pid, nil
}

// running returns the pid of the member's agent when it is alive. A pid whose process is gone, a
// zombie, or now another program (the pid was reused) counts as not running.
func running(m member) (int, bool) {
	pid, err := readPID(m)
	if err != nil || pid == 0 {
		return 0, false
	}
	return pid, isAgent(pid, m.Config)
}

// isAgent reports whether pid is a live (not zombie) `fedarms agent` of the given config file.
func isAgent(pid int, config string) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil && procState(string(stat)) == 'Z' {
		return false
	}
	// A process caught inside execve has an empty command line for a moment (its new memory is in
	// place, its arguments not yet): look again before calling it another program.
	for try := 0; ; try++ {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return false
		}
		if len(cmdline) > 0 || try == 50 {
			return argsContain(cmdline, config)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// procState extracts the state letter from /proc/PID/stat ("pid (comm) S ..."); comm may hold
// spaces and parentheses, so the state follows the last ')'.
func procState(stat string) byte {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// argsContain reports whether a NUL-separated command line has want as one of its arguments.
func argsContain(cmdline []byte, want string) bool {
	for _, a := range bytes.Split(cmdline, []byte{0}) {
		if string(a) == want {
			return true
		}
	}
	return false
}

// launch starts the member's agent in its own session (so it outlives this command and a ^C in
// the shell that ran it), logging to DATA/node.log, and records its pid.
func launch(bin string, m member) (int, error) {
	if _, err := os.Stat(bin); err != nil {
		return 0, fmt.Errorf("fedarms binary: %w (scripts/localfed builds it into DIR/bin)", err)
	}
	logf, err := os.OpenFile(m.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("log of %s: %w", m.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "---- localfed: starting %s at %s ----\n", m.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, "agent", "--config", m.Config)
	if ns, err := os.ReadFile(netnsFile(m.DataDir)); err == nil {
		// ip netns exec enters the namespace and execs the agent: the pid stays the agent's.
		cmd = exec.Command("ip", "netns", "exec", strings.TrimSpace(string(ns)), bin, "agent", "--config", m.Config)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", m.Name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(m.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("pid file of %s: %w", m.Name, err)
	}
	// Reap the child if it dies while this command still runs (up and start wait for readiness);
	// once this command exits, the agent is adopted and reaped by init.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}

// signalAndWait sends sig to the member's agent and waits up to timeout for it to exit. It reports
// whether the agent was running at all.
func signalAndWait(m member, sig syscall.Signal, timeout time.Duration) (bool, error) {
	pid, ok := running(m)
	if !ok {
		_ = os.Remove(m.pidFile())
		return false, nil
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("signal %s (pid %d): %w", m.Name, pid, err)
	}
	deadline := time.Now().Add(timeout)
	for isAgent(pid, m.Config) {
		if time.Now().After(deadline) {
			return true, fmt.Errorf("%s (pid %d) still running %v after %v; try: localfed kill DIR %s", m.Name, pid, timeout, sig, m.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = os.Remove(m.pidFile())
	return true, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
