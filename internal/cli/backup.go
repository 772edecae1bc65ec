package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/wire"
)

func backupCmd(e *env) *cobra.Command {
	c := &client{}
	var out string
	var identity bool
	var rate float64
	cmd := &cobra.Command{
		Use:   "backup --out DIR [--identity] [--rate MB/s]",
		Short: "Take an online, consistent backup of the running node into a new directory (admin)",
		Long: `Take an online, consistent backup of the running node into a new directory (admin).

The node streams its files to this machine while it goes on serving: each shard's state at a known
applied index, node.db (hits, traces, tokens, the audit log), the control state, and a manifest with
every file's size and SHA-256 (checked here as the files arrive; SHA256SUMS is written too). Nothing
is written on the node's disk. The directory appears only once the whole backup has arrived and
matches its manifest.

--identity adds the node key. It is a secret: whoever holds it can act as this node in the
federation. Keep such a backup like the key itself, or leave the key out and keep it with the
node's credentials.

--rate MB paces the copy at MB megabytes a second (default 50; the node sends only as fast as this
command reads), leaving the node's CPU and disk to its searches; the copy stays consistent, only
longer. At full speed (--rate 0) a busy node's searches slow down while the copy runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--out is required")}
			}
			body, _ := json.Marshal(wire.BackupRequest{Identity: identity})
			t0 := time.Now()
			resp, err := c.open("POST", "/v1/admin/backup", "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var in io.Reader = resp.Body
			if rate > 0 {
				in = &pacedReader{r: in, rate: rate * 1e6, start: time.Now()}
			}
			if est, _ := strconv.ParseInt(resp.Header.Get("Fedarms-Backup-Estimate"), 10, 64); isTerminal(e.stderr) && est > 0 {
				bar := progressbar.DefaultBytes(est, "backup")
				defer bar.Finish()
				in = io.TeeReader(in, bar)
			}
			m, err := node.ReceiveBackup(in, out)
			if err != nil {
				return err
			}
			if c.asJSON {
				return printJSON(e.stdout, m)
			}
			var size int64
			for _, f := range m.Files {
				size += f.Size
			}
			fmt.Fprintf(e.stdout, "backup of %s (%s, fedarms %s) in %s: %d files, %.1f MB, %.1fs\n",
				m.Node, m.Role, m.Release, out, len(m.Files), float64(size)/1e6, time.Since(t0).Seconds())
			printBackupShards(e.stdout, m)
			if m.Identity {
				fmt.Fprintf(e.stderr, "warning: %s holds the node key, a secret: keep it like the key itself\n", out)
			}
			return nil
		},
	}
	addClientFlags(cmd, c)
	cmd.Flags().StringVar(&out, "out", "", "new directory for the backup")
	cmd.Flags().BoolVar(&identity, "identity", false, "include the node key (a secret)")
	cmd.Flags().Float64Var(&rate, "rate", 50, "pace the copy at this many MB a second (0: as fast as it goes)")
	return cmd
}

// pacedReader reads at most rate bytes a second on average; the node's writes wait meanwhile.
type pacedReader struct {
	r     io.Reader
	rate  float64 // bytes a second
	start time.Time
	n     int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if len(b) > 256<<10 {
		b = b[:256<<10] // small steps, so the pace is even
	}
	k, err := p.r.Read(b)
	p.n += int64(k)
	if ahead := time.Duration(float64(p.n)/p.rate*float64(time.Second)) - time.Since(p.start); ahead > 0 {
		time.Sleep(ahead)
	}
	return k, err
}

func printBackupShards(w io.Writer, m node.BackupManifest) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tAPPLIED\tTERM\tRECORDS\tDIGEST")
	if m.Control != nil {
		fmt.Fprintf(tw, "(control)\t%d\t%d\t\t\n", m.Control.AppliedIndex, m.Control.AppliedTerm)
	}
	for _, s := range m.Shards {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.16s\n", s.Shard, s.AppliedIndex, s.AppliedTerm, s.Records, s.Digest)
	}
	tw.Flush()
}

func restoreCmd(e *env) *cobra.Command {
	var from, data, identity, tokenFile, caFile string
	var survivors, survivorBackups []string
	var report, asJSON, recover, quorumLost bool
	var reason string
	var storage config.Storage
	cmd := &cobra.Command{
		Use:   "restore --from DIR --data NEW [--identity KEY] [--recover --quorum-lost] | restore --report --from DIR --survivor URL...",
		Short: "Make a data dir from a backup, or report what a rebuild from it keeps and may lose",
		Long: `Make a data dir from a backup, or report what a rebuild from it keeps and may lose.

restore --from DIR --data NEW checks every file of the backup against its manifest (a damaged backup
is refused, naming the file), then makes NEW, which 'fedarms agent' starts on: each shard and the
control group start from their copy as a raft snapshot at the recorded index, so a restored member
takes the entries written since from the others. A backup without the node key needs --identity
KEY (the node's key file), or the node starts under a new identity that must be admitted.

restore --from DIR --data NEW --recover --quorum-lost rebuilds a federation whose central quorum is
lost (two of three central machines gone, or all three) from one central node's backup: every
group starts with this node as its only voter, so it elects itself and takes writes again. Then
revoke each lost central member (fedarms federation remove NAME) and join its replacement, one at
a time. --quorum-lost is the operator's word that the old voters are gone for good: while a
majority of them still runs, a rebuilt node would be a second federation under the same name.
The rebuild is recorded in the node's audit log (--reason). A surviving holder that applied
entries after the backup halts that shard, keeps its copy and names the entries only it may hold
(fedarms shards); compare a backup of it with this one (--report --survivor-backup) before
rebuilding its copy.

restore --report --from DIR --survivor URL ... compares the backup's shards with what the surviving
members hold (GET /v1/shards on each, with --token-file) and lists, shard by shard, which copy is
newest and where writes made after it can have been lost.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--from is required")}
			}
			if report {
				return restoreReport(e, from, survivors, survivorBackups, tokenFile, caFile, asJSON)
			}
			if data == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--data is required")}
			}
			if recover && !quorumLost {
				return &exitError{code: exitUsage, err: fmt.Errorf("--recover makes this node the only voter of every group: give --quorum-lost once you know a majority of the old central nodes is gone for good (while it runs, this would be a second federation under the same name)")}
			}
			if quorumLost && !recover {
				return &exitError{code: exitUsage, err: fmt.Errorf("--quorum-lost goes with --recover")}
			}
			t0 := time.Now()
			res, err := node.RestoreBackup(from, data, node.RestoreOptions{Identity: identity, Now: time.Now, Recover: recover, Reason: reason, Storage: storage})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, res)
			}
			m := res.Manifest
			fmt.Fprintf(e.stdout, "restored %s (%s, backup of %s) into %s in %.1fs\n", m.Node, m.Role, m.Finished.Format(time.RFC3339), data, time.Since(t0).Seconds())
			printBackupShards(e.stdout, m)
			fmt.Fprintf(e.stdout, "audit log: %d entries, head %s, chain intact: %v\n", res.Audit.Entries, res.Audit.Head, res.Audit.OK())
			if r := res.Recovery; r != nil {
				fmt.Fprintf(e.stdout, "rebuilt around %s: the only voter of every group (%d groups); recorded in the audit log and %s/RECOVERED\n", r.Node, len(r.Groups), data)
				fmt.Fprintln(e.stdout, "next: start the node, revoke each lost central member (fedarms federation remove NAME), then join their replacements one at a time")
			}
			if !res.Identity && m.Role != "" && m.Control != nil {
				fmt.Fprintln(e.stderr, "warning: no node key in the data dir: put the node's key in it (node.key, or key_file in the config) before starting, or the node starts under a new identity that must be admitted")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup directory")
	cmd.Flags().StringVar(&data, "data", "", "new data dir to make")
	cmd.Flags().StringVar(&identity, "identity", "", "node key file to put in the data dir (for a backup taken without --identity)")
	storageFlags(cmd, &storage)
	cmd.Flags().BoolVar(&recover, "recover", false, "rebuild a federation whose central quorum is lost around this node (with --quorum-lost)")
	cmd.Flags().BoolVar(&quorumLost, "quorum-lost", false, "the operator's word that a majority of the old central nodes is gone for good")
	cmd.Flags().StringVar(&reason, "reason", "", "why the federation is rebuilt (recorded in the audit log)")
	cmd.Flags().BoolVar(&report, "report", false, "compare the backup with the survivors instead of restoring")
	cmd.Flags().StringArrayVar(&survivors, "survivor", nil, "API address of a surviving member (repeat; NAME=URL to name it)")
	cmd.Flags().StringArrayVar(&survivorBackups, "survivor-backup", nil, "backup of a surviving member, taken after the loss (repeat): its records are compared by id")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "token for the survivors' APIs (default: $FEDARMS_TOKEN, else ./fedarms-data/admin.token)")
	cmd.Flags().StringVar(&caFile, "ca", "", "PEM file of the federation's CA, for https:// survivors")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print machine-readable JSON")
	return cmd
}

func restoreReport(e *env, from string, survivors, survivorBackups []string, tokenFile, caFile string, asJSON bool) error {
	m, err := node.VerifyBackup(from)
	if err != nil {
		return err
	}
	var list []node.Survivor
	for _, s := range survivors {
		name, addr, ok := strings.Cut(s, "=")
		if !ok {
			name, addr = s, s
		}
		c := &client{addr: addr, tokenFile: tokenFile, caFile: caFile}
		var st struct {
			Shards []wire.ShardStatus `json:"shards"`
		}
		if err := c.do("GET", "/v1/shards", "", nil, &st); err != nil {
			return fmt.Errorf("survivor %s: %w", name, err)
		}
		list = append(list, node.Survivor{Name: name, Shards: st.Shards})
	}
	for _, dir := range survivorBackups {
		sm, err := node.VerifyBackup(dir)
		if err != nil {
			return fmt.Errorf("survivor backup %s: %w", dir, err)
		}
		list = append(list, node.SurvivorFromBackup(dir, sm))
	}
	rep := node.CompareBackup(m, list)
	if err := node.DescribeChanges(from, rep, list, 1000); err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, map[string]any{"backup": map[string]any{"node": m.Node, "finished": m.Finished}, "shards": rep})
	}
	fmt.Fprintf(e.stdout, "backup of %s taken %s, against %d survivor(s)\n", m.Node, m.Finished.Format(time.RFC3339), len(list))
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTATUS\tBACKUP\tNEWEST SURVIVOR\tDETAIL")
	for _, l := range rep {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s@%d\t%s\n", l.Shard, l.Status, l.BackupIndex, orDash(l.Newest), l.NewestIndex, l.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range rep {
		if c := l.Changes; c != nil {
			fmt.Fprintf(e.stdout, "%s: %d added, %d changed, %d removed between the backup and %s's copy (ids: --json)\n",
				l.Shard, c.AddedCount, c.ChangedCount, c.RemovedCount, l.ChangesFrom)
		}
	}
	return nil
}
