//go:build linux

package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDoctorCentralPortDropped puts the central node's libp2p port behind a firewall that drops
// (not rejects) its packets, the way a border post's provider or a site firewall usually blocks a
// port: the central node listens inside its own network namespace, reached over a veth pair, and an
// nftables rule in that namespace drops TCP to the port. Doctor must first find the port open, then
// report it unreachable with no answer and the firewall fix. It needs root, ip and nft; it skips
// with the reason otherwise.
func TestDoctorCentralPortDropped(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace and a firewall rule")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian: iproute2, nftables): %v", tool, err)
		}
	}
	ns := fmt.Sprintf("fddoc%d", os.Getpid())
	veth := fmt.Sprintf("fdd%d", os.Getpid()%1_000_000)
	subnet := 16 + os.Getpid()%200
	hostIP, nsIP := fmt.Sprintf("10.213.%d.1", subnet), fmt.Sprintf("10.213.%d.2", subnet)

	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() }) // takes the veth pair with it
	sh("ip", "link", "add", veth+"h", "type", "veth", "peer", "name", veth+"n")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", veth+"h").Run() })
	sh("ip", "link", "set", veth+"n", "netns", ns)
	sh("ip", "addr", "add", hostIP+"/30", "dev", veth+"h")
	sh("ip", "link", "set", veth+"h", "up")
	sh("ip", "netns", "exec", ns, "ip", "addr", "add", nsIP+"/30", "dev", veth+"n")
	sh("ip", "netns", "exec", ns, "ip", "link", "set", veth+"n", "up")
	sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

	l := listenInNetns(t, ns, nsIP+":0")
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

	s := newDoctorSite(t, siteFault{centralAddr: l.Addr().String()})
	s.expect(t, "reachability", checkOK, "lyon-1", l.Addr().String()+" ok in")

	_, port, _ := net.SplitHostPort(l.Addr().String())
	sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "fdtest")
	sh("ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "fdtest", "input",
		"{ type filter hook input priority 0; policy accept; }")
	sh("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "fdtest", "input", "tcp", "dport", port, "drop")
	s.expect(t, "reachability", checkFail, "lyon-1", "no answer (filtered?)", "no central node is reachable", "firewall")
}

// listenInNetns opens a TCP listener inside the named network namespace. A socket belongs to the
// namespace of the thread that made it, so one locked thread enters the namespace, listens, and is
// thrown away (a goroutine that ends while locked takes its thread with it).
func listenInNetns(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread ends in the other namespace
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
		done <- result{l, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.l
}
