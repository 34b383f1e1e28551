package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// server is one loopback listener: it accepts connections, lets the guard turn
// away those from other processes, and hands each remaining one to serve on its
// own goroutine. It owns the listener and every accepted connection: serve must
// return when the connection fails, and the server closes the connection after
// serve returns. Close stops accepting, closes every connection and waits for
// every serve call to return.
//
// The nameserver endpoint has one server; the relay has one per virtual broker
// endpoint.
type server struct {
	// immutable after listen
	log      *slog.Logger
	ln       net.Listener
	guard    Guard
	maxConns int
	serve    func(net.Conn)

	wg sync.WaitGroup // the accept loop and every serve call

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

// listenLoopback listens on addr, which must be a loopback IP with a port.
func listenLoopback(addr string) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q is not an IP:port: %w", addr, err)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("listen address %q is not a loopback address: the endpoints serve this process only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %q: %w", addr, err)
	}
	return ln, nil
}

// listen starts a server on addr. log should already name the component; the
// server adds the address.
func listen(addr string, o *options, log *slog.Logger, serve func(net.Conn)) (*server, error) {
	ln, err := listenLoopback(addr)
	if err != nil {
		return nil, err
	}
	s := &server{
		log:      log.With("addr", ln.Addr().String()),
		ln:       ln,
		guard:    o.guard,
		maxConns: o.maxConns,
		serve:    serve,
		conns:    make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the listener's host:port.
func (s *server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, closes every connection and waits until every serve
// call has returned. It is safe to call more than once.
func (s *server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("accept failed; the endpoint stops accepting", "err", err)
			}
			return
		}
		// The guard runs on this goroutine: it is cheap next to a connection's
		// lifetime (see OwnProcessGuard), and accepting one at a time keeps a
		// flood from starting unbounded checks.
		if s.guard != nil {
			if gerr := s.guard(c); gerr != nil {
				s.log.Warn("refused a connection", "remote", c.RemoteAddr().String(), "reason", gerr)
				c.Close()
				continue
			}
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		if s.maxConns > 0 && len(s.conns) >= s.maxConns {
			s.mu.Unlock()
			s.log.Warn("refused a connection: too many connections", "remote", c.RemoteAddr().String(), "limit", s.maxConns)
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.run(c)
	}
}

func (s *server) run(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	s.serve(c)
}
