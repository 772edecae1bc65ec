package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/internal/version"
)

func versionCmd(e *env) *cobra.Command {
	var long, asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--long] [--json]",
		Short: "Print the release of this binary (the version members report and packages are named after)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := version.Current()
			b.Release = version.Release()
			switch {
			case asJSON:
				return printJSON(e.stdout, b)
			case long:
				fmt.Fprintln(e.stdout, b)
			default:
				fmt.Fprintln(e.stdout, b.Release)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&long, "long", false, "also print the VCS revision and the Go release that built it")
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}
