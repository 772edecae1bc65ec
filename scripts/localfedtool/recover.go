package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fedarms/fedarms/config"
)

// recoverFrom rebuilds a federation whose central quorum is lost around central node name, from
// a backup of it (fedarms backup --identity), as the runbook says: the lost central nodes are
// down; name's data dir is made again with `fedarms restore --recover --quorum-lost` (every group
// with name as its only voter) and started; every other central member is revoked (it votes
// nowhere after the rebuild), then replaced by a new identity under its name, one at a time. The
// surviving holders are left running: one that applied entries the backup lacks halts the shard
// and says so (fedarms shards), and is the operator's to decide.
func (t *tool) recoverFrom(name, backup string) error {
	t0 := time.Now()
	ms, err := loadMembers(t.dir)
	if err != nil {
		return err
	}
	m, err := find(ms, name)
	if err != nil {
		return err
	}
	if m.Role != string(config.RoleCentral) {
		return fmt.Errorf("%s is a %s node: a federation is rebuilt around a central node", name, m.Role)
	}
	var lost []member
	for _, o := range ms {
		if o.Role != string(config.RoleCentral) || o.Name == name {
			continue
		}
		if _, ok := running(o); ok {
			return fmt.Errorf("%s is running: recover is for a federation whose central quorum is lost (stop or kill the old central nodes first; while a majority of them runs, use replace)", o.Name)
		}
		lost = append(lost, o)
	}
	if _, err := signalAndWait(m, syscall.SIGKILL, 10*time.Second); err != nil {
		return err
	}
	if err := wipeDataDir(m); err != nil {
		return err
	}
	abs, err := filepath.Abs(backup)
	if err != nil {
		return err
	}
	tmp := filepath.Join(t.dir, name+".restored")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	out, err := t.fedarms("restore", "--from", abs, "--data", tmp, "--recover", "--quorum-lost", "--reason", "localfed recover: central quorum lost")
	if err != nil {
		return err
	}
	fmt.Fprint(t.out, out)
	if err := moveInto(tmp, m.DataDir); err != nil {
		return err
	}
	pid, err := launch(t.bin, m)
	if err != nil {
		return err
	}
	if err := waitReady([]member{m}, t.env.readyTimeout); err != nil {
		return fmt.Errorf("%s rebuilt (pid %d) but %w", name, pid, err)
	}
	fmt.Fprintf(t.out, "%s rebuilt from %s: the only voter of every group, serving (%.1fs)\n", name, backup, time.Since(t0).Seconds())
	for _, o := range lost {
		if err := wipeDataDir(o); err != nil {
			return err
		}
		if err := t.removeCentral(m, o.Name); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "lost %s revoked (%.1fs)\n", o.Name, time.Since(t0).Seconds())
	}
	for _, o := range lost {
		if err := t.joinCentral(m, o); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "%s replaced: a new identity votes in every group (%.1fs)\n", o.Name, time.Since(t0).Seconds())
	}
	fmt.Fprintf(t.out, "federation rebuilt around %s with %d central nodes in %.1fs\n", name, len(lost)+1, time.Since(t0).Seconds())
	return t.rewriteFedFile()
}

// moveInto moves every entry of dir src into dst (the member's directory, which keeps its config
// and certificate), then removes src.
func moveInto(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		to := filepath.Join(dst, e.Name())
		if _, err := os.Stat(to); err == nil {
			return fmt.Errorf("%s exists: the restored %s would replace it", to, e.Name())
		}
		if err := os.Rename(filepath.Join(src, e.Name()), to); err != nil {
			return err
		}
	}
	return os.Remove(src)
}

// recoverArgs reads `recover NODE BACKUP`.
func (t *tool) recoverArgs(rest []string) error {
	if len(rest) != 2 || strings.HasPrefix(rest[0], "-") {
		return usageError{"recover takes DIR NODE BACKUP"}
	}
	return t.recoverFrom(rest[0], rest[1])
}
