package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/wire"
)

// reviewCmd lists the records past their review date (GET /v1/review): an NCB's own, every
// country's for the General Secretariat, the counts alone for an operator.
func reviewCmd(e *env) *cobra.Command {
	lc := &client{}
	var status, country, cursor string
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "review [--status due|expired] [--country CC] [--limit N] [--cursor C | --all]",
		Short: "List the records past their review date (an NCB its own; the GS all; an operator the counts): due ones still HIT, expired ones no longer do until renewed or deleted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var page wire.ReviewPage
			var records []wire.ReviewRecord
			for {
				q := url.Values{"limit": {strconv.Itoa(limit)}}
				for k, v := range map[string]string{"status": status, "country": country, "cursor": cursor} {
					if v != "" {
						q.Set(k, v)
					}
				}
				if err := lc.do("GET", "/v1/review?"+q.Encode(), "", nil, &page); err != nil {
					return err
				}
				records = append(records, page.Records...)
				cursor = page.Cursor
				if !all || cursor == "" {
					break
				}
			}
			page.Records = records
			if lc.asJSON {
				return printJSON(e.stdout, page)
			}
			printReview(e, page)
			if cursor != "" {
				fmt.Fprintf(e.stdout, "more: fedarms records review --cursor %s (or --all)\n", cursor)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "due (past the review date, still a HIT) or expired (past the grace period too: no HIT); both by default")
	cmd.Flags().StringVar(&country, "country", "", "one recording country (ISO 3166-1 alpha-2)")
	cmd.Flags().IntVar(&limit, "limit", 100, "records per page (at most 1000)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "the page after the one that printed this cursor")
	cmd.Flags().BoolVar(&all, "all", false, "every page, to the end")
	addClientFlags(cmd, lc)
	return cmd
}

func printReview(e *env, page wire.ReviewPage) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	grace := "off (records past their date still HIT)"
	if page.GraceSeconds > 0 {
		grace = (time.Duration(page.GraceSeconds) * time.Second).String()
		if page.GraceSeconds%86400 == 0 {
			grace = fmt.Sprintf("%dd", page.GraceSeconds/86400)
		}
	}
	fmt.Fprintf(tw, "as of %s, grace %s", page.AsOf.Format(time.RFC3339), grace)
	if !page.Complete {
		fmt.Fprintf(tw, " (this node holds %v only: ask a central node for the whole list)", page.Shards)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "COUNTRY\tDUE\tEXPIRED")
	for _, c := range page.Counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", c.Country, c.Due, c.Expired)
	}
	if len(page.Records) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "RECORD\tCOUNTRY\tREVIEW DATE\tSTATE\tNO HIT FROM\tSERIAL\tMAKE\tMODEL")
		for _, r := range page.Records {
			noHit := "-"
			if !r.NoHitFrom.IsZero() {
				noHit = r.NoHitFrom.Format(time.DateOnly)
			}
			serial, mk, model := "(changed or deleted since)", "", ""
			if r.Record != nil {
				serial, mk, model = r.Record.Serial, r.Record.Make, r.Record.Model
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.RecordingCountry, r.ReviewDate, r.State, noHit, serial, mk, model)
		}
	}
	tw.Flush()
}
