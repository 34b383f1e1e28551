package meshtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// extraListener is one more address a server listens on.
type extraListener struct {
	addr string
	ln   net.Listener
}

// addAddress makes the server also listen on a new 127.0.0.1 port, now and
// across restarts, and returns it.
func (s *server) addAddress() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	e := extraListener{addr: ln.Addr().String()}
	if s.running && !s.refusing {
		e.ln = ln
		s.wg.Add(1)
		go s.acceptLoop(ln)
	} else {
		ln.Close()
	}
	s.extra = append(s.extra, e)
	return e.addr, nil
}

// listenExtraLocked listens on every added address again (after start or the
// end of refusing).
func (s *server) listenExtraLocked() error {
	for i := range s.extra {
		if s.extra[i].ln != nil {
			continue
		}
		ln, err := listenRetry(context.Background(), s.extra[i].addr)
		if err != nil {
			return fmt.Errorf("meshtest: %w", err)
		}
		s.extra[i].ln = ln
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	return nil
}

func (s *server) closeExtraLocked() {
	for i := range s.extra {
		if s.extra[i].ln != nil {
			s.extra[i].ln.Close()
			s.extra[i].ln = nil
		}
	}
}

// listeningLocked reports whether ln is one of the server's current listeners.
func (s *server) listeningLocked(ln net.Listener) bool {
	if s.ln == ln {
		return true
	}
	return slices.ContainsFunc(s.extra, func(e extraListener) bool { return e.ln == ln })
}

// AddAddress makes the broker also listen on a new 127.0.0.1 port and returns
// it: the same broker reached at a second address, as after a move behind a new
// VIP or a re-addressed pod. The broker keeps listening there across Stop and
// Restart; Request.LocalAddr tells which address a request came in on.
func (b *Broker) AddAddress() (string, error) {
	addr, err := b.srv.addAddress()
	if err != nil {
		return "", fmt.Errorf("meshtest: broker %q id %d: adding an address: %w", b.set.name, b.id, err)
	}
	return addr, nil
}

// WithAllowedClients makes the brokers (not the nameserver) serve only
// connections from the given IP addresses; a connection from any other is
// closed at once and counted ([Broker.RefusedConnections]). A test whose
// clients must reach brokers through a relay dialing from its own source address
// (127.0.0.2, say) proves with it that nothing reaches a broker another way.
// Invalid addresses make NewCluster fail.
func WithAllowedClients(ips ...string) ClusterOption {
	return func(o *clusterOptions) { o.allowedClients = append(o.allowedClients, ips...) }
}

// allowFunc returns the accept check for WithAllowedClients, nil when every
// client is allowed.
func allowFunc(ips []string) (func(net.Addr) bool, error) {
	if len(ips) == 0 {
		return nil, nil
	}
	allowed := make(map[netip.Addr]bool, len(ips))
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("meshtest: allowed client %q is not an IP address: %w", s, err)
		}
		allowed[ip.Unmap()] = true
	}
	return func(a net.Addr) bool {
		ap, err := netip.ParseAddrPort(a.String())
		return err == nil && allowed[ap.Addr().Unmap()]
	}, nil
}

// RefusedConnections returns how many connections the broker closed because
// their client address is not among WithAllowedClients.
func (b *Broker) RefusedConnections() int { return int(b.srv.refused.Load()) }

// AllowClients replaces the client addresses the brokers serve (see
// WithAllowedClients); no addresses serves every client. Connections already
// served are kept.
func (c *Cluster) AllowClients(ips ...string) error {
	allow, err := allowFunc(ips)
	if err != nil {
		return err
	}
	for _, s := range c.sets {
		for _, b := range s.members {
			b.srv.mu.Lock()
			b.srv.allow = allow
			b.srv.mu.Unlock()
		}
	}
	return nil
}
