package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/notify"
)

func tracesCmd(e *env) *cobra.Command {
	lc := &client{}
	var status string
	cmd := &cobra.Command{
		Use:   "traces [--status open|answered|closed]",
		Short: "List trace requests (made by this agency, or sent to this NCB's country)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Traces []notify.Trace `json:"traces"`
				Cursor string         `json:"cursor"`
			}
			// Every page: trace requests are few.
			for cursor := ""; ; {
				var page struct {
					Traces []notify.Trace `json:"traces"`
					Cursor string         `json:"cursor"`
				}
				q := url.Values{"status": {status}, "limit": {"1000"}, "cursor": {cursor}}
				if err := lc.do("GET", "/v1/traces?"+q.Encode(), "", nil, &page); err != nil {
					return err
				}
				out.Traces = append(out.Traces, page.Traces...)
				if cursor = page.Cursor; cursor == "" {
					break
				}
			}
			if lc.asJSON {
				return printJSON(e.stdout, out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TRACE\tSTATUS\tFIREARM\tREQUESTED BY\tCREATED\tRECIPIENTS\tANSWERS")
			for _, t := range out.Traces {
				var rc []string
				for _, r := range t.Recipients {
					mark := "-"
					if t.Receipts[r] != "" {
						mark = "ok"
					}
					rc = append(rc, r+":"+mark)
				}
				var ans []string
				for _, a := range t.Answers {
					ans = append(ans, a.Country+": "+a.Text)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s %s %s\t%s\t%s\t%s\t%s\n", t.ID, t.Status, t.Firearm.Make, t.Firearm.Model, t.Firearm.Serial,
					t.RequestedBy, t.CreatedAt.Format(time.RFC3339), strings.Join(rc, " "), strings.Join(ans, " | "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "open, answered or closed")
	addClientFlags(cmd, lc)

	cc := &client{}
	var req struct {
		RecordID          string          `json:"record_id,omitempty"`
		Firearm           *notify.Firearm `json:"firearm,omitempty"`
		LastImportCountry string          `json:"last_import_country,omitempty"`
	}
	var fa notify.Firearm
	create := &cobra.Command{
		Use:   "create (--record ID | --serial S --make M [--country-of-manufacture CC]) [--last-import CC]",
		Short: "Ask the countries of manufacture and last legal import (and the General Secretariat) to trace a firearm",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.RecordID == "" {
				req.Firearm = &fa
			}
			var t notify.Trace
			if err := cc.postJSON("/v1/traces", req, &t); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "trace %s sent to %s\n", t.ID, strings.Join(t.Recipients, ", "))
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&req.RecordID, "record", "", "a record id (the firearm is taken from it)")
	f.StringVar(&fa.Serial, "serial", "", "serial number")
	f.StringVar(&fa.Make, "make", "", "make")
	f.StringVar(&fa.Model, "model", "", "model")
	f.StringVar(&fa.Calibre, "calibre", "", "calibre")
	f.StringVar(&fa.CountryOfManufacture, "country-of-manufacture", "", "ISO 3166-1 alpha-2")
	f.StringVar(&req.LastImportCountry, "last-import", "", "country of last legal import (ISO 3166-1 alpha-2)")
	addClientFlags(create, cc)

	ac := &client{}
	answer := &cobra.Command{
		Use: "answer TRACE TEXT", Short: "Answer a trace sent to this NCB's country", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t notify.Trace
			if err := ac.postJSON("/v1/traces/"+args[0]+"/answer", map[string]string{"text": args[1]}, &t); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "trace %s %s\n", t.ID, t.Status)
			return nil
		},
	}
	addClientFlags(answer, ac)
	xc := &client{}
	closeCmd := &cobra.Command{
		Use: "close TRACE", Short: "Close a trace this agency requested", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t notify.Trace
			if err := xc.postJSON("/v1/traces/"+args[0]+"/close", map[string]string{}, &t); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "trace %s %s\n", t.ID, t.Status)
			return nil
		},
	}
	addClientFlags(closeCmd, xc)
	cmd.AddCommand(create, answer, closeCmd)
	return cmd
}
