package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/transport"
)

// diskSpace is what statfs says of the file system holding the data dir.
type diskSpace struct {
	Free, Total   uint64 // bytes available to an unprivileged user, and the size
	Inodes, Files uint64 // free inodes, and the total
}

func statDisk(path string) (diskSpace, error) {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return diskSpace{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(s.Bsize)
	return diskSpace{Free: s.Bavail * bs, Total: s.Blocks * bs, Inodes: s.Ffree, Files: s.Files}, nil
}

// clockSynchronised asks the kernel whether NTP (timesyncd, chrony) disciplines the clock.
func clockSynchronised() (bool, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, err
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0, nil
}

func fileOwner(st fs.FileInfo) string {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	if u, err := user.LookupId(strconv.Itoa(int(sys.Uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(sys.Uid))
}

// Headroom thresholds beyond limits.min_free_bytes, below which the node refuses record writes.
const (
	inodesFailPct = 1
	inodesWarnPct = 5
)

// checkDisk compares the data dir's free space with the floor the node enforces (warning at twice
// the floor, before writes are refused) and its free inodes with 5% and 1%.
func (d *doctor) checkDisk() finding {
	f := finding{Check: "disk", Status: checkOK}
	dir := d.cfg.DataDir
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir) // the data dir may not exist yet: measure where it will be
	}
	s, err := d.statfs(dir)
	if err != nil {
		return finding{Check: f.Check, Status: checkFail, Detail: err.Error(), Fix: "check the file system holding " + d.cfg.DataDir}
	}
	floor := uint64(max(d.cfg.Limits.MinFreeBytes, 0))
	f.Detail = fmt.Sprintf("%s free of %s on %s (node refuses writes below %s); %d of %d inodes free",
		bytesIEC(s.Free), bytesIEC(s.Total), dir, bytesIEC(floor), s.Inodes, s.Files)
	grow := "free space on that file system (old logs, core dumps) or grow it; the node's snapshots and raft logs need room to compact"
	switch {
	case s.Free < floor:
		f.Status, f.Fix = checkFail, grow+"; record writes are being refused now (503 insufficient_storage)"
	case s.Free < 2*floor:
		f.Status, f.Fix = checkWarn, grow
	}
	if s.Files > 0 {
		pct := s.Inodes * 100 / s.Files
		if pct < inodesFailPct {
			f.Status, f.Fix = checkFail, "free inodes on that file system (many small files elsewhere on it) or move data_dir"
		} else if pct < inodesWarnPct && f.Status == checkOK {
			f.Status, f.Fix = checkWarn, "free inodes on that file system or move data_dir"
		}
	}
	return f
}

func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// keyPath is where the node reads its key: the credential, federation.key_file, or the data dir.
func (d *doctor) keyPath() string {
	if fc := d.cfg.Federation; fc != nil && fc.KeyFile != "" {
		return fc.KeyFile
	}
	return filepath.Join(d.cfg.DataDir, transport.IdentityFile)
}

// Certificates expiring within these are a warning, then a failure.
const (
	certWarn = 30 * 24 * time.Hour
	certFail = 7 * 24 * time.Hour
)

// checkCredentials checks the node key, the admin token's file mode, and every certificate near
// expiry: those named with --cert and any *.pem or *.crt in the config dir and its credentials.
// Bearer tokens carry no expiry in this release; they last until revoked.
func (d *doctor) checkCredentials() []finding {
	var out []finding
	key := finding{Check: "node_key", Status: checkOK}
	if d.cfg.Federation == nil {
		key.Detail = "a one-node federation needs no node key"
	} else if id, err := transport.LoadIdentity(d.keyPath()); err != nil {
		key.Status, key.Detail = checkFail, err.Error()
		key.Fix = "fedarms site init creates the key (credentials/node.key, 0600 root); a key that was readable by others may have leaked: ask the General Secretariat to revoke this peer id and start again with a new one"
		if errors.Is(err, transport.ErrKeyPermissions) {
			key.Fix = "chmod 0600 " + d.keyPath() + "; if others could read it, it may have leaked: have it revoked and set the site up again"
		}
	} else {
		key.Detail = fmt.Sprintf("%s: peer id %s", d.keyPath(), id.ID)
	}
	out = append(out, key)

	tok := finding{Check: "admin_token", Status: checkOK, Detail: "no admin token yet (the node writes one on first start)"}
	p := filepath.Join(d.cfg.DataDir, "admin.token")
	if st, err := os.Stat(p); err == nil {
		tok.Detail = fmt.Sprintf("%s mode %04o (tokens do not expire; revoke with fedarms tokens revoke)", p, st.Mode().Perm())
		if st.Mode().Perm()&0o077 != 0 {
			tok.Status, tok.Fix = checkFail, "chmod 0600 "+p+", then rotate it: fedarms tokens create ... and tokens revoke the old one (docs/operations.md)"
		}
	}
	out = append(out, tok, checkAtRest(d.cfg.DataDir, d.cfg.Storage))
	return append(out, d.checkCertificates())
}

// checkAtRest says whether the data dir is encrypted at rest and its data key sealed.
func checkAtRest(dataDir string, s config.Storage) finding {
	f := finding{Check: "at_rest", Status: checkOK}
	sealing, err := seal.SealingOf(dataDir)
	switch {
	case err != nil:
		f.Status, f.Detail = checkFail, err.Error()
		f.Fix = "restore the data dir from a backup (docs/operations.md, Restore from backup)"
	case sealing == "" && (s.Plain || !fileExists(filepath.Join(dataDir, "node.db"))):
		f.Detail = "no data dir yet: the node creates it encrypted at its first start"
		if s.Plain {
			f.Status, f.Detail = checkWarn, "storage.plain: a new data dir is made unencrypted"
			f.Fix = "remove storage.plain (it is only for measuring the cost of encryption)"
		}
	case sealing == "":
		f.Status, f.Detail = checkWarn, dataDir+" is not encrypted at rest (made by an earlier release): a lost device gives its records away"
		f.Fix = "stop the node and run fedarms storage encrypt --data " + dataDir + " (docs/operations.md, Encryption at rest)"
	case sealing == seal.SealedNone:
		f.Status, f.Detail = checkWarn, "encrypted, but the data key is not sealed: a lost disk holds its key"
		f.Fix = "seal it with a systemd credential: [storage] credential and LoadCredentialEncrypted= (docs/operations.md, Encryption at rest)"
	default:
		f.Detail = "encrypted; the data key is sealed by a " + sealing
	}
	return f
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (d *doctor) certificateFiles() []string {
	files := slices.Clone(d.certs)
	dir := filepath.Dir(d.cfgPath)
	for _, pat := range []string{"*.pem", "*.crt", siteCreds + "/*.pem", siteCreds + "/*.crt"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	if cd := os.Getenv("CREDENTIALS_DIRECTORY"); cd != "" {
		m, _ := filepath.Glob(filepath.Join(cd, "*.pem"))
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

func (d *doctor) checkCertificates() finding {
	f := finding{Check: "certificates", Status: checkOK}
	files := d.certificateFiles()
	if len(files) == 0 {
		f.Detail = "no certificate files (none in the config dir or given with --cert)"
		return f
	}
	var notes []string
	worst := checkOK
	now := d.now()
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			notes, worst = append(notes, err.Error()), checkFail
			continue
		}
		n := 0
		for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
			if block.Type != "CERTIFICATE" {
				continue
			}
			n++
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				notes, worst = append(notes, fmt.Sprintf("%s: %v", path, err)), checkFail
				continue
			}
			left := cert.NotAfter.Sub(now)
			what := fmt.Sprintf("%s (%s) expires %s", path, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
			switch {
			case left <= 0:
				notes, worst = append(notes, what+": EXPIRED"), checkFail
			case left < certFail:
				notes, worst = append(notes, fmt.Sprintf("%s: in %s", what, left.Round(time.Hour))), checkFail
			case left < certWarn:
				notes = append(notes, fmt.Sprintf("%s: in %s", what, left.Round(time.Hour)))
				if worst == checkOK {
					worst = checkWarn
				}
			case now.Before(cert.NotBefore):
				notes, worst = append(notes, what+": not valid yet (is the clock right?)"), checkFail
			default:
				notes = append(notes, what)
			}
		}
		if n == 0 {
			notes = append(notes, path+": no certificate in it")
		}
	}
	f.Status, f.Detail = worst, strings.Join(notes, "; ")
	if worst != checkOK {
		f.Fix = "ask the General Secretariat for a renewed certificate, put it in place and restart the node (docs/operations.md, Rotate tokens and keys)"
	}
	return f
}

// checkRoster finds this node's entry by its peer id in the roster file (every entry verified
// against the root key) and compares it with the config, the way the node does when it starts.
func (d *doctor) checkRoster() finding {
	f := finding{Check: "roster", Status: checkOK}
	fc := d.cfg.Federation
	if fc == nil {
		f.Detail = "a one-node federation has no roster"
		return f
	}
	fail := func(detail, fix string) finding {
		return finding{Check: f.Check, Status: checkFail, Detail: detail, Fix: fix}
	}
	ask := "send request.json (fedarms site init prints it) to the General Secretariat and run fedarms site join with the entry it signs"
	pub, err := transport.ParseRootPub(fc.RootPub)
	if err != nil {
		return fail("federation.root_pub: "+err.Error(), "set root_pub to the key the General Secretariat gives (fedarms site join --root-pub)")
	}
	entries, err := fedplan.LoadRoster(fc.RosterFile)
	if err != nil {
		return fail(err.Error(), ask)
	}
	id, err := transport.LoadIdentity(d.keyPath())
	if err != nil {
		return fail("cannot tell which entry is this node's: "+err.Error(), "fix the node key first (see node_key)")
	}
	var self *transport.Entry
	centrals := 0
	for _, se := range entries {
		if err := transport.VerifyEntry(pub, se); err != nil {
			return fail(fmt.Sprintf("entry %s in %s: %v", se.Entry.Name, fc.RosterFile, err),
				"the roster holds an entry the federation's root key did not sign: get the roster again from the General Secretariat")
		}
		if se.Entry.Role == transport.RoleCentral {
			centrals++
		}
		if se.Entry.PeerID == id.ID {
			e := se.Entry
			self = &e
		}
	}
	if self == nil {
		for _, se := range entries {
			if se.Entry.Name == d.cfg.Name {
				return fail(fmt.Sprintf("the roster's entry for %s is for peer id %s, but this node's key is peer id %s: the entry was signed for another machine's request (or the key was replaced)",
					d.cfg.Name, se.Entry.PeerID, id.ID), ask)
			}
		}
		return fail(fmt.Sprintf("no entry in %s for this node's peer id %s", fc.RosterFile, id.ID), ask)
	}
	switch {
	case self.Name != d.cfg.Name || string(self.Role) != d.cfg.Role:
		return fail(fmt.Sprintf("the entry says %s/%s, the config %s/%s", self.Name, self.Role, d.cfg.Name, d.cfg.Role),
			"make name and role in the config match the signed entry, or ask for a new entry")
	case self.Country != d.cfg.Country:
		return fail(fmt.Sprintf("the entry says country %q, the config %q", self.Country, d.cfg.Country), "correct country in the config")
	case centrals == 0:
		return fail("the roster lists no central node: the node has nobody to join", "get the federation's roster from the General Secretariat and run fedarms site join again")
	}
	f.Detail = fmt.Sprintf("%s (%s, serial %d) in a roster of %d entries, %d central", self.Name, self.PeerID, self.Serial, len(entries), centrals)
	if !slices.Equal(sortedCopy(self.Shards), sortedCopy(d.cfg.Shards)) {
		f.Status = checkWarn
		f.Detail += fmt.Sprintf("; the entry grants shards %v, the config holds %v", self.Shards, d.cfg.Shards)
		f.Fix = "set shards in the config to those of the entry (fedarms site join does), or ask for an entry with the shards this site needs"
	}
	return f
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
