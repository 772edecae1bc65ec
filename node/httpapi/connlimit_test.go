package httpapi

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestConnLimitRefusesCheaply: a connection over the per-client limit is reset at accept (one RST,
// no FIN exchange or TIME_WAIT on the node) and counted; keep-alive, which the listener no longer
// sets on every accepted connection, is set on the admitted ones only.
func TestConnLimitRefusesCheaply(t *testing.T) {
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 4)
	l := &ConnLimit{Listener: ln, Total: 10, PerClient: 1, KeepAlive: DefaultKeepAlive,
		Refused: func(reason string) { refused <- reason }}
	defer l.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	first, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	var admitted net.Conn
	select {
	case admitted = <-accepted:
		defer admitted.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("first connection not accepted")
	}
	if on := keepAliveOn(t, admitted.(*limitedConn).Conn); !on {
		t.Error("admitted connection has no TCP keep-alive")
	}
	// The reset may come before the dial has seen its connection established.
	over, err := net.Dial("tcp", ln.Addr().String())
	if err == nil {
		defer over.Close()
		over.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = over.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("second connection from one address: read %v, want a reset at accept", err)
	}
	select {
	case r := <-refused:
		if r != "per_client" {
			t.Errorf("refused for %q, want per_client", r)
		}
	case <-time.After(5 * time.Second):
		t.Error("refusal not counted")
	}
	if l.Open() != 1 {
		t.Errorf("open %d, want 1", l.Open())
	}
	admitted.Close()
	admitted.Close()
	if l.Open() != 0 {
		t.Errorf("open %d after closing twice, want 0", l.Open())
	}
}

func keepAliveOn(t *testing.T, c net.Conn) bool {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return v == 1
}
