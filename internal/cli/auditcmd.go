package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
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
	var dataDir, anchorsFile, central, nodeName string
	var storage config.Storage
	verify := &cobra.Command{
		Use:   "verify [--data DIR] [--anchors FILE | --central URL [--node NAME]]",
		Short: "Check the audit hash chain (of the running node, or offline of a stopped node's data dir), and against the heads it anchored",
		Long: `verify exits 0 only when the chain is intact (no entry changed, removed or reordered) and
consistent with every head the node anchored at the central nodes: the entry at each anchored seq
exists and has the anchored hash. Without --data the node checks itself, fetching its anchors
from a central node. --central URL fetches them from that central node instead (with the same
token and --ca), which a node rewritten by its own root cannot answer for; --anchors FILE reads
them from the answer of GET /v1/audit/anchors?node=NAME saved earlier. With --data, a chain cut
or rewritten and sealed again is found only against anchors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if anchorsFile != "" && central != "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--anchors and --central: give one")}
			}
			anchors, err := verifyAnchors(vc, anchorsFile, central, nodeName, dataDir != "")
			if err != nil {
				return err
			}
			var rep audit.Report
			switch {
			case dataDir != "":
				db, err := bolt.Open(filepath.Join(dataDir, "node.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
				if err != nil {
					return fmt.Errorf("open %s: %w (is the node still running? stop it, or verify through the API without --data)", filepath.Join(dataDir, "node.db"), err)
				}
				defer db.Close()
				// A node killed before folding its journal has its last acknowledged entries there
				// only (until it starts again), so the offline check reads the journal too.
				journal := filepath.Join(dataDir, "audit.journal")
				key, err := offlineDataKey(dataDir, storage)
				if err != nil {
					return err
				}
				if rep, err = audit.VerifySealedWithJournal(db, journal, key, anchors); err != nil {
					return err
				}
			default:
				var out struct {
					Report audit.Report `json:"report"`
				}
				if err := vc.do("GET", "/v1/audit/verify", "", nil, &out); err != nil {
					return err
				}
				rep = out.Report
				if anchors != nil {
					if err := checkAnchorsOnline(vc, anchors, &rep); err != nil {
						return err
					}
				}
			}
			if vc.asJSON {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(e.stdout, string(b))
			} else {
				fmt.Fprintf(e.stdout, "entries: %d\nhead: %s\n", rep.Entries, rep.Head)
				if rep.Journaled > 0 {
					fmt.Fprintf(e.stdout, "journaled: %d (only in audit.journal; the node folds them into node.db when it starts)\n", rep.Journaled)
				}
				if rep.Anchors > 0 {
					fmt.Fprintf(e.stdout, "anchors checked: %d\n", rep.Anchors)
				}
				for _, p := range rep.Problems {
					fmt.Fprintf(e.stdout, "PROBLEM seq %d: %s: %s\n", p.Seq, p.Kind, p.Detail)
				}
			}
			if !rep.OK() {
				return &exitError{code: exitFailure, err: fmt.Errorf("audit chain broken or not as anchored: %d problem(s)", len(rep.Problems))}
			}
			if rep.Anchors > 0 {
				fmt.Fprintln(e.stdout, "audit chain intact and as anchored")
			} else {
				fmt.Fprintln(e.stdout, "audit chain intact")
			}
			return nil
		},
	}
	verify.Flags().StringVar(&dataDir, "data", "", "verify a stopped node's data dir offline")
	storageFlags(verify, &storage)
	verify.Flags().StringVar(&anchorsFile, "anchors", "", "JSON file of the node's anchors (the answer of GET /v1/audit/anchors?node=NAME)")
	verify.Flags().StringVar(&central, "central", "", "central node API address to fetch the node's anchors from")
	verify.Flags().StringVar(&nodeName, "node", "", "the node's name, for --central (default: the name the node at --addr reports)")
	addClientFlags(verify, vc)
	cmd.AddCommand(tail, verify)
	return cmd
}

// anchorsAnswer is the answer of GET /v1/audit/anchors, and the file --anchors reads.
type anchorsAnswer struct {
	Node    string         `json:"node"`
	Anchors []audit.Anchor `json:"anchors"`
}

// verifyAnchors reads the anchors to check against: from file, or from the central node at
// central for the node named name (asked of the node at vc when empty and online). Nil without
// either.
func verifyAnchors(vc *client, file, central, name string, offline bool) ([]audit.Anchor, error) {
	var ans anchorsAnswer
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--anchors: %w", err)
		}
		if err := json.Unmarshal(b, &ans); err != nil {
			return nil, fmt.Errorf("--anchors %s: not the answer of GET /v1/audit/anchors: %w", file, err)
		}
	case central != "":
		if name == "" && offline {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--central with --data: name the node with --node")}
		}
		if name == "" {
			var h struct {
				Node string `json:"node"`
			}
			if err := vc.do("GET", "/v1/health", "", nil, &h); err != nil || h.Node == "" {
				return nil, fmt.Errorf("asking the node at %s its name (or give --node): %v", vc.addr, err)
			}
			name = h.Node
		}
		cc := *vc
		cc.addr, cc.http = central, nil
		if err := cc.do("GET", "/v1/audit/anchors?node="+url.QueryEscape(name), "", nil, &ans); err != nil {
			return nil, fmt.Errorf("anchors of %s from %s: %w", name, central, err)
		}
	default:
		return nil, nil
	}
	if ans.Anchors == nil {
		ans.Anchors = []audit.Anchor{} // checked against none: said so by "anchors checked"
	}
	return ans.Anchors, nil
}

// checkAnchorsOnline checks a running node's entries at the anchored seqs, one read each, and adds
// what differs to rep: the node's own verification cannot vouch for anchors it fetched itself.
func checkAnchorsOnline(vc *client, anchors []audit.Anchor, rep *audit.Report) error {
	var last uint64
	var tail struct {
		Entries []audit.Entry `json:"entries"`
	}
	if err := vc.do("GET", "/v1/audit?n=1", "", nil, &tail); err != nil {
		return err
	}
	if len(tail.Entries) > 0 {
		last = tail.Entries[0].Seq
	}
	for _, a := range anchors {
		if a.Seq == 0 {
			continue
		}
		var out struct {
			Entries []audit.Entry `json:"entries"`
		}
		if err := vc.do("GET", fmt.Sprintf("/v1/audit?after=%d&n=1", a.Seq-1), "", nil, &out); err != nil {
			return err
		}
		found := len(out.Entries) == 1 && out.Entries[0].Seq == a.Seq
		hash := ""
		if found {
			hash = out.Entries[0].Hash
		}
		rep.Anchors++
		if p := audit.CheckAnchor(a, hash, found, last); p != nil {
			rep.Problems = append(rep.Problems, *p)
		}
	}
	return nil
}
