package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/wire"
)

// upgradeCmd is `fedarms federation upgrade status|finalize`: what formats the federation speaks,
// and the step that lets a newer one be written once every member reads it.
func upgradeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "A rolling upgrade: the formats in use and who reads what (status), and the step that lets new formats be written (finalize)",
	}
	cmd.AddCommand(upgradeStatusCmd(e), upgradeFinalizeCmd(e))
	return cmd
}

func upgradeStatusCmd(e *env) *cobra.Command {
	c := &client{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the formats this release writes and holds back, each member's release and formats, and whether finalize can run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st wire.UpgradeStatus
			if err := c.do("GET", "/v1/federation/upgrade", "", nil, &st); err != nil {
				return err
			}
			if c.asJSON {
				return printJSON(e.stdout, st)
			}
			printUpgrade(e.stdout, st)
			return nil
		},
	}
	addClientFlags(cmd, c)
	return cmd
}

func upgradeFinalizeCmd(e *env) *cobra.Command {
	c := &client{}
	cmd := &cobra.Command{
		Use:   "finalize",
		Short: "Record for the whole federation that the newer formats may be written (at a central node; refused while a member cannot read them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out wire.UpgradeFinalized
			if err := c.do("POST", "/v1/federation/upgrade/finalize", "application/json", strings.NewReader("{}"), &out); err != nil {
				if strings.Contains(err.Error(), "upgrade_blocked") {
					return fmt.Errorf("%w\n(see: fedarms federation upgrade status)", err)
				}
				return err
			}
			if c.asJSON {
				return printJSON(e.stdout, out)
			}
			if !out.Changed {
				fmt.Fprintf(e.stdout, "nothing to finalize: %s already finalized\n", formatList(out.Formats))
				return nil
			}
			fmt.Fprintf(e.stdout, "finalized %s at control index %d: nodes write the new formats from now on\n", formatList(out.Formats), out.Index)
			return nil
		},
	}
	addClientFlags(cmd, c)
	return cmd
}

func printUpgrade(w io.Writer, st wire.UpgradeStatus) {
	fmt.Fprintf(w, "release %s\n\n", st.Release)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FORMAT\tWRITES\tNEWEST\tFINALIZED\tHELD BACK")
	for _, f := range st.Formats {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\n", f.Kind, f.Writes, f.Newest, f.Finalized, f.HeldBack)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tROLE\tSTATUS\tRELEASE\tREADS (raft_command control snapshot message data_dir)\tREADY")
	for _, m := range st.Members {
		var reads []string
		for _, k := range []string{"raft_command", "control", "snapshot", "message", "data_dir"} {
			f, ok := m.Formats[k]
			if !ok {
				reads = append(reads, "?")
				continue
			}
			reads = append(reads, fmt.Sprintf("%d-%d", f.Oldest, f.Newest))
		}
		rel := orDash(m.Version)
		if !m.FormatsReported && m.Formats != nil {
			rel += " (publishes no formats)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", m.Name, m.Role, m.Status, rel, strings.Join(reads, " "), m.Ready)
	}
	tw.Flush()
	for _, b := range st.Blockers {
		fmt.Fprintf(w, "blocks finalize: %s\n", b)
	}
	fmt.Fprintf(w, "\ncan finalize: %v\nnext: %s\n", st.CanFinalize, st.Next)
}

func formatList(f map[string]int) string {
	if len(f) == 0 {
		return "no format"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%s format %d", k, f[k]))
	}
	return strings.Join(parts, ", ")
}
