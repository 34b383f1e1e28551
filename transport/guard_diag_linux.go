package transport

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// sock_diag constants (linux/sock_diag.h, linux/inet_diag.h, linux/netlink.h).
const (
	netlinkInetDiag   = 4  // NETLINK_INET_DIAG (NETLINK_SOCK_DIAG)
	sockDiagByFamily  = 20 // SOCK_DIAG_BY_FAMILY
	nlmsgHeaderLen    = 16
	inetDiagReqV2Len  = 56
	inetDiagMsgInode  = 68 // offset of idiag_inode in struct inet_diag_msg
	inetDiagMsgMinLen = 72
	diagTimeout       = time.Second
)

// diagInode asks the kernel, over a sock_diag netlink socket, for the inode of
// the TCP socket whose local end is peer and whose remote end is local: one exact
// lookup, whatever the number of sockets on the host.
func diagInode(peer, local *net.TCPAddr) (uint64, error) {
	family, src, dst := uint8(syscall.AF_INET6), peer.IP.To16(), local.IP.To16()
	if p4, l4 := peer.IP.To4(), local.IP.To4(); p4 != nil && l4 != nil {
		family, src, dst = syscall.AF_INET, p4, l4
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkInetDiag)
	if err != nil {
		return 0, fmt.Errorf("transport: sock_diag socket: %w", err)
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(diagTimeout))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("transport: sock_diag socket: %w", err)
	}

	var req [nlmsgHeaderLen + inetDiagReqV2Len]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[nlmsgHeaderLen:]
	r[0], r[1] = family, syscall.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], uint16(peer.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(local.Port))
	copy(id[4:20], src)
	copy(id[20:36], dst)
	ne.PutUint32(id[40:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], ^uint32(0))
	if err := syscall.Sendto(fd, req[:], 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("transport: sock_diag request: %w", err)
	}

	var buf [1024]byte
	n, _, err := syscall.Recvfrom(fd, buf[:], 0)
	if err != nil {
		return 0, fmt.Errorf("transport: sock_diag answer: %w", os.NewSyscallError("recvfrom", err))
	}
	msg := buf[:n]
	if len(msg) < nlmsgHeaderLen {
		return 0, fmt.Errorf("transport: sock_diag answer of %d bytes", len(msg))
	}
	switch typ := ne.Uint16(msg[4:]); typ {
	case syscall.NLMSG_ERROR:
		if len(msg) >= nlmsgHeaderLen+4 {
			if errno := int32(ne.Uint32(msg[nlmsgHeaderLen:])); errno != 0 {
				return 0, fmt.Errorf("transport: peer %s: sock_diag: %w", peer, syscall.Errno(-errno))
			}
		}
		return 0, fmt.Errorf("transport: peer %s: sock_diag answered with an empty error", peer)
	case sockDiagByFamily:
	default:
		return 0, fmt.Errorf("transport: sock_diag answered with message type %d", typ)
	}
	body := msg[nlmsgHeaderLen:]
	if len(body) < inetDiagMsgMinLen {
		return 0, fmt.Errorf("transport: sock_diag answer body of %d bytes", len(body))
	}
	return uint64(ne.Uint32(body[inetDiagMsgInode:])), nil
}
