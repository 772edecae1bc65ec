package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/wire"
)

func refCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "ref", Short: "Look up the reference tables: makes (with aliases and codes) and calibres"}
	mc := &client{}
	makes := &cobra.Command{
		Use: "makes QUERY", Short: "Find manufacturers by name, alias, abbreviation, misspelling or code", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Makes []wire.RefMake `json:"makes"`
			}
			if err := mc.do("GET", "/v1/reference/makes?q="+url.QueryEscape(args[0]), "", nil, &out); err != nil {
				return err
			}
			if mc.asJSON {
				return printJSON(e.stdout, out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MAKE\tCOUNTRY\tALIASES\tCODES")
			for _, m := range out.Makes {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Country, strings.Join(m.Aliases, ", "), strings.Join(m.Codes, ", "))
			}
			return tw.Flush()
		},
	}
	addClientFlags(makes, mc)
	cc := &client{}
	calibres := &cobra.Command{
		Use: "calibres QUERY", Short: "Find calibres by any spelling; shows the equivalence class and related calibres", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Calibres []wire.RefCalibre `json:"calibres"`
			}
			if err := cc.do("GET", "/v1/reference/calibres?q="+url.QueryEscape(args[0]), "", nil, &out); err != nil {
				return err
			}
			if cc.asJSON {
				return printJSON(e.stdout, out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CALIBRE\tSAME AS\tCLOSE TO (not the same)")
			for _, c := range out.Calibres {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, strings.Join(c.Aliases, ", "), strings.Join(c.Close, ", "))
			}
			return tw.Flush()
		},
	}
	addClientFlags(calibres, cc)
	cmd.AddCommand(makes, calibres)
	return cmd
}
