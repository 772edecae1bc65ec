// Command fedarms is the fedarms binary: a node (agent, dev) and the client commands that talk to one.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedarms/fedarms/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
