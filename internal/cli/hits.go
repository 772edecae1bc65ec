package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/node/notify"
)

func hitsCmd(e *env) *cobra.Command {
	lc := &client{}
	var status, since, cursor string
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "hits [--status pending|confirmed|denied|overdue|undelivered] [--since TIME] [--limit N] [--cursor C | --all]",
		Short: "List the hits this caller may see (GS all, an NCB those on its records, a searcher its own), newest first, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var hits []notify.Hit
			for {
				q := url.Values{"status": {status}, "limit": {strconv.Itoa(limit)}}
				if since != "" {
					q.Set("since", since)
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var out struct {
					Hits   []notify.Hit `json:"hits"`
					Cursor string       `json:"cursor"`
				}
				if err := lc.do("GET", "/v1/hits?"+q.Encode(), "", nil, &out); err != nil {
					return err
				}
				hits = append(hits, out.Hits...)
				cursor = out.Cursor
				if !all || cursor == "" {
					break
				}
			}
			if lc.asJSON {
				return printJSON(e.stdout, map[string]any{"hits": hits, "cursor": cursor})
			}
			printHits(e, hits)
			if cursor != "" {
				fmt.Fprintf(e.stdout, "more: fedarms hits --cursor %s (or --all)\n", cursor)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "filter: pending, confirmed, denied, overdue, undelivered")
	cmd.Flags().StringVar(&since, "since", "", "only hits searched at or after this RFC 3339 time")
	cmd.Flags().IntVar(&limit, "limit", 100, "hits per page (at most 1000)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "the page after the one that printed this cursor")
	cmd.Flags().BoolVar(&all, "all", false, "every page, to the end")
	addClientFlags(cmd, lc)

	wc := &client{}
	watch := &cobra.Command{
		Use: "watch", Short: "Print hits as they arrive or change (server-sent events), until interrupted", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := wc.token()
			if err != nil {
				return err
			}
			req, _ := http.NewRequestWithContext(e.ctx, "GET", strings.TrimRight(wc.addr, "/")+"/v1/hits/stream", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			hc, err := wc.httpClient()
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				if e.ctx.Err() != nil {
					return nil
				}
				return reachError(wc.addr, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("hits stream: %s", resp.Status)
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			event := ""
			for sc.Scan() {
				if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					event = ev
					continue
				}
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				if event == "end" {
					// The node ended the stream: the token was revoked or expired.
					var end struct{ Reason string }
					_ = json.Unmarshal([]byte(data), &end)
					return fmt.Errorf("the node ended the hits stream: %s", end.Reason)
				}
				if wc.asJSON {
					fmt.Fprintln(e.stdout, data)
					continue
				}
				var h notify.Hit
				if json.Unmarshal([]byte(data), &h) == nil {
					printHits(e, []notify.Hit{h})
				}
			}
			return nil
		},
	}
	addClientFlags(watch, wc)

	dc := &client{}
	var comment string
	decide := &cobra.Command{
		Use: "decide HIT confirmed|denied [--comment TEXT]", Short: "The recording NCB confirms or denies a hit", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var h notify.Hit
			if err := dc.postJSON("/v1/hits/"+args[0]+"/decision", map[string]string{"decision": args[1], "comment": comment}, &h); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "hit %s %s by %s\n", h.ID, h.Decision, h.DecidedBy)
			return nil
		},
	}
	decide.Flags().StringVar(&comment, "comment", "", "a note for the searcher and the General Secretariat")
	addClientFlags(decide, dc)
	cmd.AddCommand(watch, decide)
	return cmd
}

func printHits(e *env, hits []notify.Hit) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HIT\tRECORD\tCOUNTRY\tSEARCHED\tBY\tSCORE\tDECISION\tDEADLINE\tRECEIPTS (gs/ncb/origin)")
	now := time.Now()
	for _, h := range hits {
		deadline := h.Deadline.Format(time.RFC3339)
		if h.Overdue(now) {
			deadline += " OVERDUE"
		}
		by := h.Agency
		if h.OnBehalfOf != "" {
			by += " for " + h.OnBehalfOf
		}
		mark := func(r string) string {
			if h.Receipts[r] == "" {
				return "-"
			}
			return "ok"
		}
		late := ""
		if h.Late {
			late = " (late)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s/%s/%s\n", h.ID, late, h.RecordID, h.RecordingCountry,
			h.SearchedAt.Format(time.RFC3339), by, h.Score, h.Decision, deadline, mark(notify.RoleGS), mark(notify.RoleNCB), mark(notify.RoleOrigin))
	}
	tw.Flush()
}
