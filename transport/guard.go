package transport

import (
	"fmt"
	"net"
)

// Guard decides whether an accepted connection may be served. A non-nil error
// refuses it: the endpoint closes the connection and logs the error at warn
// level. A guard runs on the accepting goroutine, once per connection, and must
// not read from or write to the connection.
type Guard func(c net.Conn) error

// LoopbackGuard is a [Guard] that refuses peers that are not on a loopback address. It is what
// [OwnProcessGuard] falls back to where it cannot tell processes apart; every
// endpoint listens on loopback anyway, so it only matters for listeners handed
// a connection some other way.
func LoopbackGuard(c net.Conn) error {
	ra, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("transport: peer %v is not a TCP address", c.RemoteAddr())
	}
	if !ra.IP.IsLoopback() {
		return fmt.Errorf("transport: peer %s is not on a loopback address", ra)
	}
	return nil
}
