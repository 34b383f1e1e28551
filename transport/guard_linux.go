package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// OwnProcessGuard returns the default [Guard]: it serves a connection only when
// the peer socket belongs to this process, so another program on the host cannot
// use the mesh's endpoints (and through them the brokers, the mesh's credentials
// and its mTLS identity).
//
// On Linux the peer's socket is looked up by its address pair, which gives its
// inode, and that inode must be the target of one of the links in /proc/self/fd.
// The lookup asks the kernel for that one socket over a sock_diag netlink socket
// (what ss(8) uses); where netlink is unavailable it scans /proc/net/tcp and
// /proc/net/tcp6 instead. The cost per accepted connection (BenchmarkOwnProcessGuard)
// is about 20 µs for the netlink lookup plus well under 1 µs per open file of the
// process for the /proc/self/fd scan; the /proc/net fallback costs about 3 µs per
// socket on the host (30 ms with 10,000 sockets), because the kernel formats the
// whole table. Either is paid once per connection, which the official client keeps
// open for the life of the process. Where /proc cannot be read, and on other
// systems, the guard only checks that the peer is on a loopback address.
func OwnProcessGuard() Guard {
	if _, err := os.Stat(procSelfFD); err != nil {
		return LoopbackGuard
	}
	if _, err := os.Stat(procNetTCP); err != nil {
		return LoopbackGuard
	}
	return ownProcessGuard
}

const (
	procNetTCP  = "/proc/net/tcp"
	procNetTCP6 = "/proc/net/tcp6"
	procSelfFD  = "/proc/self/fd"
)

func ownProcessGuard(c net.Conn) error {
	if err := LoopbackGuard(c); err != nil {
		return err
	}
	peer, _ := c.RemoteAddr().(*net.TCPAddr)
	local, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("transport: local address %v is not a TCP address", c.LocalAddr())
	}
	// The peer's socket has the peer's address as its local end and ours as its
	// remote end.
	inode, err := diagInode(peer, local)
	if err != nil {
		// No netlink (a sandbox or an old kernel): the tables say the same,
		// only slower.
		if inode, err = peerInode(peer, local); err != nil {
			return err
		}
	}
	mine, err := ownsSocket(inode)
	if err != nil {
		return err
	}
	if !mine {
		return fmt.Errorf("transport: peer %s (socket inode %d) belongs to another process", peer, inode)
	}
	return nil
}

// peerInode finds the inode of the socket whose local address is peer and whose
// remote address is local, in /proc/net/tcp and then /proc/net/tcp6 (where an
// IPv4 peer on a dual-stack socket shows up IPv4-mapped).
func peerInode(peer, local *net.TCPAddr) (uint64, error) {
	var tried []string
	if p4, l4 := peer.IP.To4(), local.IP.To4(); p4 != nil && l4 != nil {
		pattern := procPair(hexIPv4(p4), peer.Port, hexIPv4(l4), local.Port)
		if inode, ok, err := scanProcNet(procNetTCP, pattern); err != nil || ok {
			return inode, err
		}
		tried = append(tried, procNetTCP)
		peer = &net.TCPAddr{IP: p4.To16(), Port: peer.Port}
		local = &net.TCPAddr{IP: l4.To16(), Port: local.Port}
	}
	pattern := procPair(hexIPv6(peer.IP.To16()), peer.Port, hexIPv6(local.IP.To16()), local.Port)
	inode, ok, err := scanProcNet(procNetTCP6, pattern)
	if err != nil || ok {
		return inode, err
	}
	tried = append(tried, procNetTCP6)
	return 0, fmt.Errorf("transport: peer %s is not in %v (the connection ended, or it is another network namespace's)", peer, tried)
}

// procPair is how a socket's address pair appears in /proc/net/tcp*: each
// address as the kernel's in-memory words in hex, a colon, the port in hex.
func procPair(localHex string, localPort int, remoteHex string, remotePort int) []byte {
	b := make([]byte, 0, 2*(32+5)+2)
	b = append(b, ' ')
	b = append(b, localHex...)
	b = append(b, ':')
	b = appendPortHex(b, localPort)
	b = append(b, ' ')
	b = append(b, remoteHex...)
	b = append(b, ':')
	b = appendPortHex(b, remotePort)
	return append(b, ' ')
}

func appendPortHex(b []byte, port int) []byte {
	const digits = "0123456789ABCDEF"
	return append(b, digits[port>>12&0xF], digits[port>>8&0xF], digits[port>>4&0xF], digits[port&0xF])
}

// hexIPv4 formats an IPv4 address as the kernel prints it: one 32-bit word in
// host byte order.
func hexIPv4(ip net.IP) string {
	return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(ip))
}

// hexIPv6 formats an IPv6 address as four host-order 32-bit words.
func hexIPv6(ip net.IP) string {
	return hexIPv4(ip[0:4]) + hexIPv4(ip[4:8]) + hexIPv4(ip[8:12]) + hexIPv4(ip[12:16])
}

// scanProcNet looks for pattern in one /proc/net/tcp* table and returns the
// inode column of the line holding it.
func scanProcNet(path string, pattern []byte) (uint64, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, false, nil // no IPv6 in this kernel
		}
		return 0, false, fmt.Errorf("transport: checking the peer's process: %w", err)
	}
	i := bytes.Index(data, pattern)
	if i < 0 {
		return 0, false, nil
	}
	line := data[i:]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	// After the address pair: st, tx:rx, tr:when, retrnsmt, uid, timeout, inode.
	fields := bytes.Fields(line)
	if len(fields) < 9 {
		return 0, false, fmt.Errorf("transport: checking the peer's process: short line in %s: %q", path, line)
	}
	inode, err := strconv.ParseUint(string(fields[8]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("transport: checking the peer's process: inode in %s: %w", path, err)
	}
	return inode, true, nil
}

// ownsSocket reports whether one of this process's file descriptors is the
// socket with the given inode. /proc/self/fd names the open descriptors; fstat on
// each gives its inode without resolving the link's text.
func ownsSocket(inode uint64) (bool, error) {
	if inode == 0 {
		return false, nil // a socket in TIME_WAIT or being torn down has no inode
	}
	d, err := os.Open(procSelfFD)
	if err != nil {
		return false, fmt.Errorf("transport: checking the peer's process: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return false, fmt.Errorf("transport: checking the peer's process: %w", err)
	}
	var st syscall.Stat_t
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		// A descriptor closed (or reused) since the listing is harmless: it is
		// either not found or not the socket.
		if syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFSOCK && uint64(st.Ino) == inode {
			return true, nil
		}
	}
	return false, nil
}
