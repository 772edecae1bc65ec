// Package sdnotify tells the service manager how the service is doing, as sd_notify(3) does: one
// datagram per state change on the unix socket named by $NOTIFY_SOCKET ("READY=1" once the node can
// serve searches, "WATCHDOG=1" while it stays alive, "STOPPING=1" on the way down), and the
// watchdog interval from $WATCHDOG_USEC. Outside systemd (no $NOTIFY_SOCKET) every call is a no-op.
// It imports no fedarms package.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The states this service sends.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notify sends state (newline-separated VAR=value assignments) to $NOTIFY_SOCKET. It reports
// false, nil when the process was not started with a notification socket.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	// A leading '@' names a socket in the abstract namespace (Go writes it as a leading NUL).
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	return true, nil
}

// WatchdogInterval is how often the service manager expects WATCHDOG=1 ($WATCHDOG_USEC), or 0 when
// no watchdog is armed for this process ($WATCHDOG_PID names another process, or none is set).
func WatchdogInterval() (time.Duration, error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, errors.New("sd_notify: WATCHDOG_USEC is not a positive number of microseconds: " + usec)
	}
	return time.Duration(n) * time.Microsecond, nil
}
