// Package cli implements the fedarms command line: the node commands (agent, dev) and the client
// commands that call a node's HTTP API (search, import, records, tokens, audit, gen). It imports
// node to run one, but client commands speak only HTTP. Exit codes are decided in one place, Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node"
)

// exitError carries a specific exit code (1 is the default for any other error).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // an error, or a check that found problems
	exitUsage    = 2 // bad flags or arguments
	exitRejected = 3 // an import that rejected some lines
	// exitRevoked: the node was revoked from the federation and destroyed its data; the systemd
	// unit does not restart it (RestartPreventExitStatus=).
	exitRevoked = 4
)

// env is what every command can use.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Run runs the fedarms command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "fedarms",
		Short:         "fedarms: a federated, offline-capable register of lost, stolen, trafficked and smuggled firearms",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	root.AddCommand(devCmd(e), agentCmd(e), genCmd(e), importCmd(e), screenCmd(e), searchCmd(e), recordsCmd(e),
		tokensCmd(e), auditCmd(e), federationCmd(e), membersCmd(e), hitsCmd(e), tracesCmd(e), refCmd(e),
		versionCmd(e), manCmd(e), siteCmd(e), doctorCmd(e), backupCmd(e), restoreCmd(e), storageCmd(e))
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "fedarms:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return exitUsage
	}
	if errors.Is(err, node.ErrRevoked) {
		return exitRevoked
	}
	return exitFailure
}

func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument", "flag needs"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
