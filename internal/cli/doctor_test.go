package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/version"
	"github.com/fedarms/fedarms/transport"
)

// doctorSite is an edge laid out by site init and joined to a roster with one central node, whose
// libp2p port is a live TCP listener and whose API, like the edge's own, is a test server.
type doctorSite struct {
	dir, data, cfg string
	localHealth    string // JSON the edge's own /v1/health answers
	local          *httptest.Server
	d              *doctor
}

type siteFault struct {
	centralAddr string // the central node's libp2p TCP address in the roster (default: a listener)
	selfPeer    bool   // sign this node's entry for another peer id
	dataDir     string // where the data dir goes (default: in the temp dir)
}

func newDoctorSite(t *testing.T, fault siteFault) *doctorSite {
	t.Helper()
	s := &doctorSite{dir: filepath.Join(t.TempDir(), "etc")}
	s.data = filepath.Join(s.dir, "..", "data")
	if fault.dataDir != "" {
		s.data = fault.dataDir
	}
	s.localHealth = fmt.Sprintf(`{"status":"ok","node":"edge-cdg-2","role":"edge","version":%q,"uptime_s":60,"records":12,
		"checks":{"shard:europe":{"status":"ok"},"disk":{"status":"ok"},"control":{"status":"ok"}}}`, version.Release())
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(s.localHealth))
	}))
	t.Cleanup(local.Close)
	s.local = local
	central := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"ok","node":"lyon-1","role":"central","version":%q,"checks":{}}`, version.Release())
	}))
	t.Cleanup(central.Close)
	p2p := fault.centralAddr
	if p2p == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		p2p = l.Addr().String()
	}
	host, port, _ := net.SplitHostPort(p2p)

	pub, priv, err := transport.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	run(t, "site", "init", "--role", "edge", "--country", "FR", "--name", "edge-cdg-2", "--dir", s.dir, "--data", s.data,
		"--http", strings.TrimPrefix(local.URL, "http://"), "--root-pub", transport.FormatRootPub(pub))
	self, err := transport.LoadIdentity(filepath.Join(s.dir, "credentials", "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	selfID := self.ID
	if fault.selfPeer {
		other, err := transport.LoadOrCreateIdentity(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		selfID = other.ID
	}
	lyon, err := transport.LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var roster []transport.SignedEntry
	for _, e := range []transport.Entry{
		{PeerID: lyon.ID, Name: "lyon-1", Role: transport.RoleCentral, Shards: []string{"*"}, Addrs: []string{fmt.Sprintf("/ip4/%s/tcp/%s", host, port)}, Serial: 1},
		{PeerID: selfID, Name: "edge-cdg-2", Role: transport.RoleEdge, Country: "FR", Shards: []string{"europe"}, Serial: 1},
	} {
		se, err := transport.SignEntry(priv, e)
		if err != nil {
			t.Fatal(err)
		}
		roster = append(roster, se)
	}
	b, _ := json.Marshal(roster)
	if err := os.WriteFile(filepath.Join(s.dir, "roster.json"), b, 0o640); err != nil {
		t.Fatal(err)
	}
	s.cfg = filepath.Join(s.dir, "fedarms.toml")
	s.d = newDoctor(s.cfg)
	s.d.centrals = []string{central.URL}
	s.d.ntpSync = func() (bool, error) { return true, nil }
	s.d.statfs = func(string) (diskSpace, error) {
		return diskSpace{Free: 40 << 30, Total: 64 << 30, Inodes: 3_000_000, Files: 4_000_000}, nil
	}
	return s
}

// expect runs the doctor and checks that the named check has the status, with detail and fix
// mentioning each of want, and that every other check is ok.
func (s *doctorSite) expect(t *testing.T, check, status string, want ...string) finding {
	t.Helper()
	var got finding
	for _, f := range s.d.run(context.Background()) {
		if f.Check == check {
			got = f
			continue
		}
		if f.Status != checkOK {
			t.Errorf("check %s: %s: %s (fix: %s); only %s should be off", f.Check, f.Status, f.Detail, f.Fix, check)
		}
	}
	if got.Status != status {
		t.Fatalf("check %s: got %q (%s), want %s", check, got.Status, got.Detail, status)
	}
	for _, w := range want {
		if !strings.Contains(got.Detail+" "+got.Fix, w) {
			t.Errorf("check %s does not say %q: %s / fix: %s", check, w, got.Detail, got.Fix)
		}
	}
	if status != checkOK && got.Fix == "" {
		t.Errorf("check %s is %s without a fix", check, status)
	}
	t.Logf("%s %s: %s | fix: %s", strings.ToUpper(got.Status), got.Check, got.Detail, got.Fix)
	return got
}

func TestDoctorHealthySite(t *testing.T) {
	s := newDoctorSite(t, siteFault{})
	fs := s.d.run(context.Background())
	for _, f := range fs {
		if f.Status != checkOK {
			t.Errorf("%s: %s: %s (fix: %s)", f.Check, f.Status, f.Detail, f.Fix)
		}
	}
	want := []string{"config", "data_dir", "disk", "node_key", "admin_token", "at_rest", "certificates", "roster", "reachability", "clock", "node", "shards", "release"}
	if len(fs) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(fs), len(want), fs)
	}
	for i, f := range fs {
		if f.Check != want[i] {
			t.Errorf("check %d is %s, want %s", i, f.Check, want[i])
		}
	}
}

func TestDoctorClockSkewed(t *testing.T) {
	s := newDoctorSite(t, siteFault{})
	s.d.now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	s.expect(t, "clock", checkFail, "10m", "ahead", "set-ntp") // 10m0s or 10m1s: the Date header has whole seconds
	s.d.now = func() time.Time { return time.Now().Add(-20 * time.Second) }
	s.expect(t, "clock", checkWarn, "behind")
	s.d.now = time.Now
	s.d.ntpSync = func() (bool, error) { return false, nil }
	s.expect(t, "clock", checkWarn, "NOT synchronised")
}

func TestDoctorCentralPortBlocked(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there: the connection is refused, as a firewall's reject does
	s := newDoctorSite(t, siteFault{centralAddr: closed})
	s.expect(t, "reachability", checkFail, "lyon-1", "connection refused", "no central node is reachable", "firewall")
}

func TestDoctorRosterEntryForAnotherPeer(t *testing.T) {
	s := newDoctorSite(t, siteFault{selfPeer: true})
	s.expect(t, "roster", checkFail, "signed for another machine", "site join")
}

func TestDoctorDiskNearlyFull(t *testing.T) {
	s := newDoctorSite(t, siteFault{})
	s.d.statfs = func(string) (diskSpace, error) {
		return diskSpace{Free: 100 << 20, Total: 64 << 30, Inodes: 3_000_000, Files: 4_000_000}, nil
	}
	s.expect(t, "disk", checkFail, "100.0 MiB free", "refused")
	s.d.statfs = func(string) (diskSpace, error) {
		return diskSpace{Free: 40 << 30, Total: 64 << 30, Inodes: 20_000, Files: 4_000_000}, nil
	}
	s.expect(t, "disk", checkFail, "inodes")
}

// TestDoctorDiskNearlyFullTmpfs puts the data dir on a real 16 MiB tmpfs (root only), below the
// node's 256 MiB floor, and lets the doctor measure it.
func TestDoctorDiskNearlyFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=4k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	s := newDoctorSite(t, siteFault{dataDir: filepath.Join(mnt, "data")})
	s.d.statfs = statDisk
	s.expect(t, "disk", checkFail, "MiB free of 16.0 MiB", "refused")
}

func writeCert(t *testing.T, path string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edge-cdg-2"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDoctorCertificateExpiring(t *testing.T) {
	s := newDoctorSite(t, siteFault{})
	cert := filepath.Join(s.dir, "api.pem")
	writeCert(t, cert, time.Now().Add(20*24*time.Hour))
	s.expect(t, "certificates", checkWarn, "edge-cdg-2", "renewed")
	writeCert(t, cert, time.Now().Add(3*24*time.Hour))
	s.expect(t, "certificates", checkFail, "in 7")
	writeCert(t, cert, time.Now().Add(-time.Hour))
	s.expect(t, "certificates", checkFail, "EXPIRED")
}

func TestDoctorDataDirOpenToOthers(t *testing.T) {
	s := newDoctorSite(t, siteFault{})
	os.Chmod(s.data, 0o755)
	s.expect(t, "data_dir", checkFail, "0755", "chmod 0700")
}

func TestDoctorNodeStaleOrStopped(t *testing.T) {
	s := newDoctorSite(t, siteFault{})
	s.localHealth = `{"status":"degraded","node":"edge-cdg-2","role":"edge","version":"` + version.Release() + `","checks":{"shard:europe":{"status":"degraded","detail":"copy is older than max_staleness"},"disk":{"status":"ok"}}}`
	s.expect(t, "shards", checkFail, "shard:europe degraded: copy is older than max_staleness", "reachability")
	s.local.Close()
	s.expect(t, "node", checkWarn, "not answering", "systemctl start fedarms")
}

// TestDoctorCommand runs `fedarms doctor --json` on a config that does not parse: exit 1, and the
// JSON names the failed check.
func TestDoctorCommand(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "fedarms.toml")
	os.WriteFile(cfg, []byte("version = 1\nname = \"edge\"\nrole = \"edge\"\ncountry = \"XX\"\n"), 0o644)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"doctor", "--config", cfg, "--json"}, nil, &out, &errb)
	var res struct {
		OK     bool      `json:"ok"`
		Checks []finding `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out.String(), err)
	}
	if code != exitFailure || res.OK || len(res.Checks) != 1 || res.Checks[0].Check != "config" || res.Checks[0].Status != checkFail ||
		!strings.Contains(res.Checks[0].Detail, `"XX"`) {
		t.Fatalf("exit %d, %+v", code, res)
	}
}
