package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/config"
)

// Check outcomes: only a run where every check is ok exits 0.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "fail"
)

// finding is one check's outcome: what was found and, when it is not ok, what to do.
type finding struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctor examines one node from its own machine, running or not. Its seams (clock, statfs, dialer,
// HTTP client, clock synchronisation) let tests inject each fault.
type doctor struct {
	cfgPath   string
	cfg       *config.Config // nil when the config does not parse
	centrals  []string       // the central nodes' API URLs, for the clock and the release
	certs     []string       // certificate files named on the command line
	tokenFile string         // an operator token for the running node's member view

	now     func() time.Time
	statfs  func(path string) (diskSpace, error)
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	http    *http.Client
	ntpSync func() (bool, error)
}

func newDoctor(cfgPath string) *doctor {
	d := &doctor{cfgPath: cfgPath, now: time.Now, statfs: statDisk, ntpSync: clockSynchronised,
		http: &http.Client{Timeout: 5 * time.Second}}
	dialer := &net.Dialer{Timeout: 3 * time.Second}
	d.dial = dialer.DialContext
	return d
}

// run performs every check in a fixed order; later checks use what earlier ones found.
func (d *doctor) run(ctx context.Context) []finding {
	var out []finding
	add := func(fs ...finding) { out = append(out, fs...) }
	add(d.checkConfig())
	if d.cfg == nil {
		return out
	}
	add(d.checkDataDir(), d.checkDisk())
	add(d.checkCredentials()...)
	add(d.checkRoster())
	add(d.checkReachability(ctx))
	add(d.checkClock(ctx))
	add(d.checkRunning(ctx)...)
	add(d.checkRelease(ctx))
	return out
}

func doctorCmd(e *env) *cobra.Command {
	var cfgPath, caFile string
	var asJSON bool
	d := newDoctor("")
	cmd := &cobra.Command{
		Use:   "doctor [--config FILE] [--central URL] [--json]",
		Short: "Check this node (running or not) and say how to fix what is wrong; exit 0 only when all is fine",
		Long: "doctor checks the config, the data dir's permissions, disk and inode headroom, the node key\n" +
			"and the roster entry matching it, certificates and credentials, reachability of every central\n" +
			"node (they are also the relays), the clock and the release against the central nodes' (their\n" +
			"API URLs with --central), and, when the node runs, its shards' staleness. Each check reports\n" +
			"ok, warn or fail with the fix; the exit code is 0 only when every check is ok.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d.cfgPath = cfgPath
			// The central nodes and a node with a certificate speak HTTPS: trust the federation's CA.
			hc, err := (&client{caFile: caFile}).httpClient()
			if err != nil {
				return err
			}
			hc.Timeout = d.http.Timeout
			d.http = hc
			fs := d.run(e.ctx)
			if asJSON {
				if err := printJSON(e.stdout, map[string]any{"ok": allOK(fs), "checks": fs}); err != nil {
					return err
				}
			} else {
				printFindings(e, fs)
			}
			if !allOK(fs) {
				return &exitError{code: exitFailure, err: fmt.Errorf("%s", summary(fs))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "/etc/fedarms/fedarms.toml", "the node's config file")
	f.StringSliceVar(&d.centrals, "central", nil, "API URL of a central node (repeat or comma-separate), for the clock and the release")
	f.StringSliceVar(&d.certs, "cert", nil, "a PEM certificate file to check for expiry (besides those in the config dir and credentials)")
	f.StringVar(&d.tokenFile, "token-file", "", "operator token for the running node (default: DATA/admin.token)")
	f.StringVar(&caFile, "ca", "", "PEM file of the federation's CA certificate, to reach HTTPS nodes (default: $"+caEnv+", else the system's roots)")
	f.BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

func allOK(fs []finding) bool {
	for _, f := range fs {
		if f.Status != checkOK {
			return false
		}
	}
	return true
}

func summary(fs []finding) string {
	var warn, fail []string
	for _, f := range fs {
		switch f.Status {
		case checkWarn:
			warn = append(warn, f.Check)
		case checkFail:
			fail = append(fail, f.Check)
		}
	}
	var parts []string
	if len(fail) > 0 {
		parts = append(parts, fmt.Sprintf("%d check(s) failed: %s", len(fail), strings.Join(fail, ", ")))
	}
	if len(warn) > 0 {
		parts = append(parts, fmt.Sprintf("%d warned: %s", len(warn), strings.Join(warn, ", ")))
	}
	return strings.Join(parts, "; ")
}

func printFindings(e *env, fs []finding) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(f.Status), f.Check, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", f.Fix)
		}
	}
	tw.Flush()
}

// checkConfig parses the config as the agent does and reports every problem.
func (d *doctor) checkConfig() finding {
	f := finding{Check: "config"}
	c, err := readConfigFile(d.cfgPath)
	if err != nil {
		f.Status, f.Detail = checkFail, err.Error()
		f.Fix = fmt.Sprintf("correct %s (fedarms agent --check --config %s lists every problem); fedarms site init writes a new one", d.cfgPath, d.cfgPath)
		return f
	}
	useCredentials(c, filepath.Dir(d.cfgPath))
	d.cfg = c
	f.Status = checkOK
	f.Detail = fmt.Sprintf("%s: node %s (%s", d.cfgPath, c.Name, c.Role)
	if c.Country != "" {
		f.Detail += ", " + c.Country
	}
	f.Detail += "), shards " + strings.Join(c.Shards, ",")
	if c.Federation == nil {
		f.Detail += "; a one-node federation (no [federation] section)"
	} else if c.Federation.TestFaults {
		f.Status, f.Detail, f.Fix = checkWarn, f.Detail+"; federation.test_faults is on", "remove test_faults from [federation]: it lets an admin token cut the node off"
	}
	return f
}

// checkDataDir: the data dir holds the register, the audit log and the admin token: it must exist,
// be a directory the node can write, and be closed to everyone else.
func (d *doctor) checkDataDir() finding {
	f := finding{Check: "data_dir", Status: checkOK}
	dir := d.cfg.DataDir
	st, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return finding{Check: f.Check, Status: checkWarn, Detail: dir + " does not exist yet (the node creates it on first start)",
			Fix: "install -d -m 0700 -o fedarms -g fedarms " + dir}
	case err != nil:
		return finding{Check: f.Check, Status: checkFail, Detail: err.Error(), Fix: "check the path and the disk holding it"}
	case !st.IsDir():
		return finding{Check: f.Check, Status: checkFail, Detail: dir + " is not a directory", Fix: "set data_dir to a directory"}
	}
	owner := fileOwner(st)
	f.Detail = fmt.Sprintf("%s mode %04o, owner %s", dir, st.Mode().Perm(), owner)
	if st.Mode().Perm()&0o077 != 0 {
		f.Status, f.Fix = checkFail, "chmod 0700 "+dir+" (it holds the register, the audit log and the admin token)"
		return f
	}
	probe, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		f.Status, f.Detail = checkFail, f.Detail+"; not writable: "+err.Error()
		f.Fix = "chown -R fedarms:fedarms " + dir + " (the unit's user), and check the disk is not read-only"
		return f
	}
	probe.Close()
	os.Remove(probe.Name())
	return f
}
