package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
)

func auditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the node's hash-chained audit log"}
	tc := &client{}
	var n int
	tail := &cobra.Command{
		Use: "tail", Short: "Print the last audit entries", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Entries []audit.Entry `json:"entries"`
			}
			if err := tc.do("GET", fmt.Sprintf("/v1/audit?n=%d", n), "", nil, &out); err != nil {
				return err
			}
			if tc.asJSON {
				return printJSON(e.stdout, out)
			}
			for _, en := range out.Entries {
				who := en.Agency
				if en.OnBehalfOf != "" {
					who += " for " + en.OnBehalfOf
				}
				q := ""
				if len(en.Query) > 0 {
					q = " " + string(en.Query)
				}
				ids := strings.Join(en.ResultIDs, ",")
				if len(en.ResultIDs) > 5 {
					ids = strings.Join(en.ResultIDs[:5], ",") + fmt.Sprintf(",... (%d)", len(en.ResultIDs))
				}
				fmt.Fprintf(e.stdout, "%d %s %s %s %s%s -> [%s]\n", en.Seq, en.Time.Format(time.RFC3339), who, en.Action, en.Outcome, q, ids)
			}
			return nil
		},
	}
	tail.Flags().IntVarP(&n, "lines", "n", 20, "number of entries")
	addClientFlags(tail, tc)

	vc := &client{}
	var dataDir string
	verify := &cobra.Command{
		Use:   "verify [--data DIR]",
		Short: "Check the audit hash chain (of the running node, or offline of a stopped node's data dir)",
		Long:  "verify exits 0 only when the chain is intact: no entry changed, removed or reordered.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep audit.Report
			if dataDir != "" {
				db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
				if err != nil {
					return fmt.Errorf("open %s: %w (is the node still running? stop it, or verify through the API without --data)", filepath.Join(dataDir, "node.db"), err)
				}
				defer db.Close()
				// A node killed before folding its journal has its last acknowledged entries there
				// only (until it starts again), so the offline check reads the journal too.
				if rep, err = audit.VerifyWithJournal(db, filepath.Join(dataDir, "audit.journal")); err != nil {
					return err
				}
			} else {
				var out struct {
					Report audit.Report `json:"report"`
				}
				if err := vc.do("GET", "/v1/audit/verify", "", nil, &out); err != nil {
					return err
				}
				rep = out.Report
			}
			if vc.asJSON {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(e.stdout, string(b))
			} else {
				fmt.Fprintf(e.stdout, "entries: %d\nhead: %s\n", rep.Entries, rep.Head)
				if rep.Journaled > 0 {
					fmt.Fprintf(e.stdout, "journaled: %d (only in audit.journal; the node folds them into node.db when it starts)\n", rep.Journaled)
				}
				for _, p := range rep.Problems {
					fmt.Fprintf(e.stdout, "PROBLEM seq %d: %s: %s\n", p.Seq, p.Kind, p.Detail)
				}
			}
			if !rep.OK() {
				return &exitError{code: exitFailure, err: fmt.Errorf("audit chain broken: %d problem(s)", len(rep.Problems))}
			}
			fmt.Fprintln(e.stdout, "audit chain intact")
			return nil
		},
	}
	verify.Flags().StringVar(&dataDir, "data", "", "verify a stopped node's data dir offline")
	addClientFlags(verify, vc)
	cmd.AddCommand(tail, verify)
	return cmd
}
