//go:build !linux

package transport

// OwnProcessGuard returns the default [Guard]. This system gives no portable way
// to map a TCP peer to its process, so the guard only checks that the peer is on
// a loopback address: any local process can connect. On Linux the guard also
// requires the peer socket to belong to this process.
func OwnProcessGuard() Guard { return LoopbackGuard }
