// Command holepunch is the Go half of scripts/drills/holepunch.sh, the drill that shows NATed
// edges reaching each other through a central relay and then directly, by hole punching, across
// real network address translation between Linux network namespaces. The script owns the
// namespaces, NAT rules and processes; this command lays the federation out (fedplan.WriteFederation),
// talks to each agent's HTTP API inside its namespace (through `ip netns exec`, running itself as
// `fetch`) and reads the agents' logs to time what happened and, when no direct connection came,
// say why.
//
// It imports the node package only for the layout, like scripts/localfedtool; everything it
// checks, it reads from the API and the logs.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage: holepunch COMMAND [flags]

  layout -dir D -family ip4|ip6 -transport tcp|quic -hub IP -edge-a IP -edge-b IP
                 lay out hub (central) and two edges, write D/drill.json
  members -dir D print "NAME NETNS CONFIG LOG" per member, for the script to start agents
  wait -dir D -member NAME [-timeout 60s]
                 wait until the member's API answers /v1/health
  check -dir D -started UNIXMS -expect direct|relayed [-timeout 90s -punch 30s]
                 wait until ready, replicate, gossip, relay reservations; then watch how the edges
                 reach each other and print the evidence and a VERDICT line
  fetch METHOD URL TOKENFILE
                 one HTTP call from inside the current namespace (body from stdin for POST)
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		var ve verdictError
		if errors.As(err, &ve) {
			os.Exit(1) // the VERDICT line said it
		}
		fmt.Fprintf(os.Stderr, "holepunch: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a command line that cannot be run.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"a command is required"}
	}
	switch args[0] {
	case "layout":
		return layout(args[1:])
	case "members":
		return members(args[1:], out)
	case "wait":
		return wait(args[1:])
	case "check":
		return check(args[1:], out)
	case "fetch":
		return fetch(args[1:], os.Stdin, out)
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}
