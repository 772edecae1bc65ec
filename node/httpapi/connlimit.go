package httpapi

import (
	"net"
	"sync"
	"time"
)

// ConnLimit is a listener that holds at most Total open connections, and at most PerClient from
// one IP address. A connection over either limit is closed as soon as it is accepted, before a byte
// is read, and counted by Refused ("total" or "per_client"); so idle or slow clients can hold only
// their share of the descriptors, and the rest of the node's clients still get in.
//
// A client that reconnects as fast as it is refused makes the node accept and close thousands of
// connections a second, so a refusal costs as little as it can: the listener should not set
// TCP keep-alive itself (net.ListenConfig.KeepAlive < 0); ConnLimit sets it (KeepAlive) only on the
// connections it admits. A refused one is reset (SO_LINGER 0): one RST instead of the FIN exchange
// and a TIME_WAIT socket per refusal.
type ConnLimit struct {
	net.Listener
	Total, PerClient int
	// KeepAlive is the TCP keep-alive set on each admitted connection (zero: none set here).
	KeepAlive net.KeepAliveConfig
	// Refused is told of each connection closed at accept, with the limit it broke.
	Refused func(reason string)

	mu     sync.Mutex
	open   int
	byAddr map[string]int
}

// DefaultKeepAlive is the keep-alive net.Listen would set on every accepted connection.
var DefaultKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}

// Accept returns the next connection within the limits.
func (l *ConnLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := clientHost(c.RemoteAddr())
		reason := l.admit(host)
		if reason == "" {
			if tc, ok := c.(*net.TCPConn); ok && l.KeepAlive.Enable {
				_ = tc.SetKeepAliveConfig(l.KeepAlive)
			}
			return &limitedConn{Conn: c, release: func() { l.release(host) }}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		if l.Refused != nil {
			l.Refused(reason)
		}
	}
}

func (l *ConnLimit) admit(host string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr == nil {
		l.byAddr = map[string]int{}
	}
	switch {
	case l.open >= l.Total:
		return "total"
	case l.byAddr[host] >= l.PerClient:
		return "per_client"
	}
	l.open++
	l.byAddr[host]++
	return ""
}

func (l *ConnLimit) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
}

// Open is how many connections are open now.
func (l *ConnLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func clientHost(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its place back once, however often it is closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
