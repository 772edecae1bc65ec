// Command localfedtool runs a multi-process fedarms federation on loopback for demos, tests and
// drills. scripts/localfed builds it (with the fedarms binary) into DIR/bin and calls it; the
// commands and DIR/federation.json are the contract of CONTRACTS.md ("Local federation").
//
// It owns the federation directory: the layout (through fedplan.WriteFederation), one `fedarms agent`
// process per member with its pid in DIR/NAME/agent.pid and its log in DIR/NAME/node.log, and the
// fault switch calls. It talks to the nodes only through their HTTP API and signals, and imports
// nothing from the node but the layout function and the config and roster readers.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Exit codes, in one place.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage: localfed COMMAND DIR [NODE [PEER]]

  up DIR               lay out (first time) and start 3 central, 2 ncb and 2 edge nodes on loopback,
                       wait until every shard has a leader on every node, write DIR/federation.json
  down DIR             stop every node (SIGTERM) and wait for them to exit
  stop DIR NODE        stop one node (SIGTERM) and wait for it to exit
  start DIR NODE       start one node again with the same config and data, wait until it is ready
  kill DIR NODE        kill one node with SIGKILL
  cut DIR NODE [PEER]  cut NODE off from every member (or from PEER only); NODE keeps serving its API
  heal DIR NODE [PEER] undo cut: without PEER, lift every cut on NODE (its isolation and pair cuts)
  status DIR           one line per node: pid, health, shards with leader, applied index, records
  replace DIR NODE     a central node's machine is lost: kill it, delete its data dir and identity,
                       remove it from every raft group, and have a new identity join under its name;
                       waits until the new one is a voter of every group
  add DIR NAME --role central
                       lay out one more central node, admit it and wait until it votes in every group
  remove DIR NODE      remove a central node from every group, revoke it and stop it
  recover DIR NODE BACKUP
                       the central quorum is lost (the other central nodes are down): rebuild NODE
                       from BACKUP (fedarms backup --identity) as the only voter of every group,
                       then revoke every other central node and replace it, one at a time

Environment: LOCALFED_MAX_STALENESS (default 5s), LOCALFED_READY_TIMEOUT (default 90s),
LOCALFED_STOP_TIMEOUT (default 30s), LOCALFED_LOG_LEVEL (default info), LOCALFED_PLAIN=1 (lay the
federation out serving plain HTTP; by default every node serves HTTPS with a certificate from
DIR/ca.pem's CA, named in federation.json as ca_file).
`

// usageError is a command line that cannot be run; it exits with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("localfedtool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("fedarms", "", "the fedarms binary (default DIR/bin/fedarms)")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	err := dispatch(fs.Args(), *bin, stdout)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "localfed: %s\n\n%s", ue.msg, usage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "localfed: %v\n", err)
		return exitFail
	}
}

// dispatch checks the arity of a command and runs it.
func dispatch(args []string, bin string, stdout io.Writer) error {
	if len(args) < 2 {
		return usageError{"a command and a federation DIR are required"}
	}
	cmd, dir := args[0], args[1]
	rest := args[2:]
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("dir %s: %w", dir, err)
	}
	if bin == "" {
		bin = filepath.Join(abs, "bin", "fedarms")
	}
	env, err := readEnv(os.Getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	t := &tool{dir: abs, bin: bin, out: stdout, env: env}
	want := map[string][2]int{"up": {0, 0}, "down": {0, 0}, "status": {0, 0}, "stop": {1, 1}, "start": {1, 1},
		"kill": {1, 1}, "cut": {1, 2}, "heal": {1, 2}, "replace": {1, 1}, "remove": {1, 1}}
	if cmd == "add" {
		return t.addArgs(rest)
	}
	if cmd == "recover" {
		return t.recoverArgs(rest)
	}
	n, ok := want[cmd]
	if !ok {
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	if len(rest) < n[0] || len(rest) > n[1] {
		return usageError{fmt.Sprintf("%s takes DIR%s", cmd, map[int]string{0: "", 1: " NODE", 2: " NODE [PEER]"}[n[1]])}
	}
	peer := ""
	if len(rest) == 2 {
		peer = rest[1]
	}
	switch cmd {
	case "up":
		return t.up()
	case "down":
		return t.down()
	case "status":
		return t.status()
	case "stop":
		return t.stop(rest[0])
	case "start":
		return t.start(rest[0])
	case "kill":
		return t.kill(rest[0])
	case "cut":
		return t.fault(rest[0], peer, true)
	case "replace":
		return t.replace(rest[0])
	case "remove":
		return t.remove(rest[0])
	default:
		return t.fault(rest[0], peer, false)
	}
}
