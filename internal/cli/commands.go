package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/node/wire"
)

func genCmd(e *env) *cobra.Command {
	var n int
	var seed int64
	var out string
	cmd := &cobra.Command{
		Use:   "gen --records N --seed S [--out FILE]",
		Short: "Write deterministic, realistic synthetic firearm records as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("--records must be >= 0")}
			}
			w := e.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := synth.WriteJSONLines(bw, n, seed); err != nil {
				return err
			}
			return bw.Flush()
		},
	}
	cmd.Flags().IntVar(&n, "records", 10000, "number of records")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed (same seed, same records)")
	cmd.Flags().StringVar(&out, "out", "", "output file (default stdout)")
	return cmd
}

func searchCmd(e *env) *cobra.Command {
	c := &client{}
	var q struct {
		Serial     string `json:"serial"`
		Make       string `json:"make,omitempty"`
		Model      string `json:"model,omitempty"`
		Calibre    string `json:"calibre,omitempty"`
		Type       string `json:"type,omitempty"`
		OnBehalfOf string `json:"on_behalf_of,omitempty"`
		Limit      int    `json:"limit,omitempty"`
	}
	cmd := &cobra.Command{
		Use:   "search --serial S [--make M --model X --calibre C --type T --on-behalf-of A]",
		Short: "Search the node for a firearm ('?' is one unreadable character, '*' a run of them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Serial == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--serial is required")}
			}
			var raw json.RawMessage
			if err := c.postJSON("/v1/search", q, &raw); err != nil {
				return err
			}
			if c.asJSON {
				_, err := e.stdout.Write(raw)
				return err
			}
			var resp wire.SearchResponse
			if err := json.Unmarshal(raw, &resp); err != nil {
				return err
			}
			printSearch(e.stdout, &resp)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Serial, "serial", "", "serial number as read")
	f.StringVar(&q.Make, "make", "", "make (aliases are understood)")
	f.StringVar(&q.Model, "model", "", "model")
	f.StringVar(&q.Calibre, "calibre", "", "calibre")
	f.StringVar(&q.Type, "type", "", "type: pistol, revolver, rifle, shotgun, submachine_gun, machine_gun, other")
	f.StringVar(&q.OnBehalfOf, "on-behalf-of", "", "agency this search is made for (e.g. a customs administration)")
	f.IntVar(&q.Limit, "limit", 0, "most results (default 10)")
	addClientFlags(cmd, c)
	return cmd
}

func printSearch(w io.Writer, r *wire.SearchResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tRESULT\tSCORE\tID\tSERIAL\tMAKE\tMODEL\tCALIBRE\tCOUNTRY\tSTATUS\tWHY")
	for i, res := range r.Results {
		verdict := "-"
		switch {
		case res.Hit:
			verdict = "HIT"
		case res.Review:
			verdict = "review"
		}
		rec := res.Record
		fmt.Fprintf(tw, "%d\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, verdict, res.Score, res.ID,
			rec.Serial, rec.Make, rec.Model, rec.Calibre, rec.RecordingCountry, rec.Status, whyString(res.Why.Map()))
	}
	tw.Flush()
	if len(r.Results) == 0 {
		fmt.Fprintln(w, "no match")
	}
	var parts []string
	for _, s := range r.Coverage.Shards {
		p := s.Shard + ":" + s.Source
		if s.Stale {
			p += "(STALE)"
		}
		parts = append(parts, p)
	}
	complete := "complete"
	if !r.Coverage.Complete {
		complete = "INCOMPLETE"
	}
	fmt.Fprintf(w, "search %s took %dus; coverage %s: %s\n", r.SearchID, r.TookUS, complete, strings.Join(parts, " "))
	for _, res := range r.Results {
		if res.Hit {
			fmt.Fprintf(w, "hit notification %s recorded for %s\n", res.NotificationID, res.ID)
		}
	}
}

func whyString(why map[string]string) string {
	var parts []string
	for _, k := range []string{"serial", "make", "model", "calibre", "type"} {
		if v, ok := why[k]; ok {
			parts = append(parts, k+": "+v)
		}
	}
	return strings.Join(parts, "; ")
}

func recordsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "records", Short: "Read or delete one record; list those past their review date"}
	get := &client{}
	getCmd := &cobra.Command{
		Use: "get ID", Short: "Print a record", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			if err := get.do("GET", "/v1/records/"+args[0], "", nil, &raw); err != nil {
				return err
			}
			var v any
			_ = json.Unmarshal(raw, &v)
			return printJSON(e.stdout, v)
		},
	}
	addClientFlags(getCmd, get)
	del := &client{}
	delCmd := &cobra.Command{
		Use: "delete ID", Short: "Delete a record (its recording country's NCB, or an admin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := del.do("DELETE", "/v1/records/"+args[0], "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted %s\n", args[0])
			return nil
		},
	}
	addClientFlags(delCmd, del)
	cmd.AddCommand(getCmd, delCmd, reviewCmd(e))
	return cmd
}

func tokensCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "Create, list and revoke API tokens (admin)"}
	cc := &client{}
	var req struct {
		Agency     string   `json:"agency"`
		Country    string   `json:"country"`
		Roles      []string `json:"roles"`
		Note       string   `json:"note"`
		TTL        string   `json:"ttl,omitempty"`
		OnBehalfOf []string `json:"on_behalf_of,omitempty"`
		Limits     struct {
			SearchesPerHour int `json:"searches_per_hour,omitempty"`
			SearchesPerDay  int `json:"searches_per_day,omitempty"`
			RecordsPerHour  int `json:"records_per_hour,omitempty"`
			RecordsPerDay   int `json:"records_per_day,omitempty"`
		} `json:"limits"`
	}
	create := &cobra.Command{
		Use: "create --agency A --roles r1,r2 [--country CC] [--ttl 90d] [--on-behalf-of A1,A2]", Short: "Create a token; the secret is printed once",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Token string          `json:"token"`
				Info  json.RawMessage `json:"info"`
			}
			if err := cc.postJSON("/v1/tokens", req, &out); err != nil {
				return err
			}
			if cc.asJSON {
				return printJSON(e.stdout, out)
			}
			fmt.Fprintln(e.stdout, out.Token)
			return nil
		},
	}
	create.Flags().StringVar(&req.Agency, "agency", "", "agency, e.g. FR-NCB, WCO-I2C, KE-CUSTOMS")
	create.Flags().StringVar(&req.Country, "country", "", "ISO 3166-1 alpha-2 country (empty for international bodies)")
	create.Flags().StringSliceVar(&req.Roles, "roles", nil, "roles: admin, recorder, searcher, operator")
	create.Flags().StringVar(&req.Note, "note", "", "free note")
	create.Flags().StringVar(&req.TTL, "ttl", "", "how long the token works, e.g. 90d or 720h (default: no expiry)")
	for _, l := range []struct {
		name string
		v    *int
	}{{"searches-per-hour", &req.Limits.SearchesPerHour}, {"searches-per-day", &req.Limits.SearchesPerDay},
		{"records-per-hour", &req.Limits.RecordsPerHour}, {"records-per-day", &req.Limits.RecordsPerDay}} {
		create.Flags().IntVar(l.v, l.name, 0, "read limit: "+strings.ReplaceAll(l.name, "-", " ")+" (default: the node's [limits]; -1: none)")
	}
	create.Flags().StringSliceVar(&req.OnBehalfOf, "on-behalf-of", nil, "agencies the token may search for, e.g. KE-CUSTOMS,UG-CUSTOMS (a customs network's token)")
	addClientFlags(create, cc)
	lc := &client{}
	list := &cobra.Command{
		Use: "list", Short: "List tokens (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Tokens []struct {
					ID         string     `json:"id"`
					Agency     string     `json:"agency"`
					Country    string     `json:"country"`
					Roles      []string   `json:"roles"`
					Note       string     `json:"note"`
					Created    time.Time  `json:"created"`
					Revoked    *time.Time `json:"revoked"`
					Expires    *time.Time `json:"expires"`
					LastUsed   *time.Time `json:"last_used"`
					OnBehalfOf []string   `json:"on_behalf_of"`
				} `json:"tokens"`
			}
			if err := lc.do("GET", "/v1/tokens", "", nil, &out); err != nil {
				return err
			}
			if lc.asJSON {
				return printJSON(e.stdout, out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAGENCY\tCOUNTRY\tROLES\tCREATED\tEXPIRES\tLAST USED\tREVOKED\tFOR\tNOTE")
			when := func(t *time.Time) string {
				if t == nil {
					return "-"
				}
				return t.Format(time.RFC3339)
			}
			for _, t := range out.Tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Agency, orDash(t.Country), strings.Join(t.Roles, ","),
					t.Created.Format(time.RFC3339), when(t.Expires), when(t.LastUsed), when(t.Revoked), orDash(strings.Join(t.OnBehalfOf, ",")), t.Note)
			}
			return tw.Flush()
		},
	}
	addClientFlags(list, lc)
	rc := &client{}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a token, effective immediately", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rc.do("DELETE", "/v1/tokens/"+args[0], "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	addClientFlags(revoke, rc)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
