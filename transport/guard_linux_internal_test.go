package transport

import (
	"net"
	"testing"
)

// TestPeerInode_NetlinkAndProcAgree checks both ways of finding a peer socket's
// inode against each other, for IPv4 and (where the host has it) IPv6.
func TestPeerInode_NetlinkAndProcAgree(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback here: %v", network, err)
			}
			defer ln.Close()
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			peer, local := s.RemoteAddr().(*net.TCPAddr), s.LocalAddr().(*net.TCPAddr)
			viaDiag, err := diagInode(peer, local)
			if err != nil {
				t.Fatalf("diagInode: %v", err)
			}
			viaProc, err := peerInode(peer, local)
			if err != nil {
				t.Fatalf("peerInode: %v", err)
			}
			if viaDiag == 0 || viaDiag != viaProc {
				t.Errorf("inode via sock_diag %d, via /proc/net %d; want the same non-zero inode", viaDiag, viaProc)
			}
			if mine, err := ownsSocket(viaDiag); err != nil || !mine {
				t.Errorf("ownsSocket(%d) = %v, %v; want the dialing socket to be this process's", viaDiag, mine, err)
			}
			// The accepted socket's own pair (reversed) is a different socket.
			if rev, err := diagInode(local, peer); err != nil || rev == viaDiag {
				t.Errorf("reversed pair: inode %d, %v; want the accepted socket's own inode", rev, err)
			}
			if _, err := diagInode(peer, &net.TCPAddr{IP: local.IP, Port: 1}); err == nil {
				t.Error("a pair no socket has was found")
			}
		})
	}
}
