package meshtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// writeTimeout bounds one frame write so a stuck peer cannot wedge a handler.
const writeTimeout = 5 * time.Second

// handlerFunc answers one request. A nil response means no reply (oneway, or the
// request was parked and will be answered later through conn.reply).
type handlerFunc func(cn *conn, req *remoting.Command) *remoting.Command

// server is the listener, connections and request loop shared by the nameserver
// and the brokers.
type server struct {
	// Immutable after construction.
	log     *slog.Logger
	handle  handlerFunc
	onClose func(*conn) // called once per connection after it closed; may be nil

	mu        sync.Mutex
	addr      string // fixed at the first start; guarded by mu
	ln        net.Listener
	running   bool // listening or refusing, i.e. started and not stopped
	refusing  bool
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // accept loop, readers, delayed handlers
	stopCh    chan struct{}  // closed by stop; recreated by start
	nextConnN uint64
	// extra holds the addresses added with addAddress and their listeners
	// (nil while stopped or refusing); guarded by mu.
	extra []extraListener
	// allow, when set, decides from the peer address whether a connection is
	// served (guarded by mu); refused counts the ones it turned away.
	allow   func(net.Addr) bool
	refused atomic.Int64
	// tls is the TLS configuration of new connections and what their
	// handshakes saw; plaintext while it has none.
	tls tlsState
}

func newServer(log *slog.Logger, h handlerFunc) *server {
	return &server{log: log, handle: h, conns: make(map[*conn]struct{})}
}

// start listens on addr (the fixed address after the first start).
func (s *server) start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	if s.addr != "" {
		addr = s.addr
	}
	ln, err := listenRetry(context.Background(), addr)
	if err != nil {
		return fmt.Errorf("meshtest: %w", err)
	}
	s.addr = ln.Addr().String()
	s.ln = ln
	s.running = true
	s.refusing = false
	s.stopCh = make(chan struct{})
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return s.listenExtraLocked()
}

// startElsewhere starts a stopped server on a new ephemeral port.
func (s *server) startElsewhere() error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("still running: stop it first")
	}
	old := s.addr
	s.addr = ""
	s.mu.Unlock()
	if err := s.start("127.0.0.1:0"); err != nil {
		s.mu.Lock()
		s.addr = old
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.allow != nil && !s.allow(nc.RemoteAddr()) {
			s.mu.Unlock()
			s.refused.Add(1)
			s.log.Debug("refusing a connection from a client address that is not allowed", "remote", nc.RemoteAddr().String())
			nc.Close()
			continue
		}
		if !s.running || !s.listeningLocked(ln) {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.nextConnN++
		cn := &conn{srv: s, nc: nc, raw: nc, remote: nc.RemoteAddr().String(), local: nc.LocalAddr().String(), closed: make(chan struct{})}
		if cfg := s.tls.current(); cfg != nil {
			cn.nc = tls.Server(nc, cfg)
		}
		s.conns[cn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go cn.readLoop()
	}
}

// addrString returns the fixed address.
func (s *server) addrString() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// registered reports whether the server counts as registered with the nameserver:
// started and not stopped or killed.
func (s *server) registered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// stop closes the listener and every connection and waits for the server's
// goroutines. abrupt resets connections (SO_LINGER 0) instead of closing them.
func (s *server) stop(abrupt bool) {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.running = false
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	s.closeExtraLocked()
	close(s.stopCh)
	conns := make([]*conn, 0, len(s.conns))
	for cn := range s.conns {
		conns = append(conns, cn)
	}
	s.mu.Unlock()
	for _, cn := range conns {
		cn.close(abrupt)
	}
	s.wg.Wait()
}

// refuse closes (true) or reopens (false) the listener without touching
// established connections.
func (s *server) refuse(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running || s.refusing == on {
		return nil
	}
	s.refusing = on
	if on {
		s.ln.Close()
		s.ln = nil
		s.closeExtraLocked()
		return nil
	}
	ln, err := listenRetry(context.Background(), s.addr)
	if err != nil {
		return fmt.Errorf("meshtest: %w", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return s.listenExtraLocked()
}

// closeConns closes every established connection, keeping the listener.
func (s *server) closeConns() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for cn := range s.conns {
		conns = append(conns, cn)
	}
	s.mu.Unlock()
	for _, cn := range conns {
		cn.close(false)
	}
}

// conn is one accepted client connection. One goroutine reads it; writes are
// serialized by writeMu.
type conn struct {
	// Immutable after accept.
	srv    *server
	nc     net.Conn // raw, or a TLS server connection over it
	raw    net.Conn
	remote string
	local  string

	writeMu sync.Mutex

	closeOnce sync.Once
	closed    chan struct{}
	dead      atomic.Bool // killed: answer nothing more

	clientID atomic.Pointer[string] // last heartbeat's clientID

	callMu sync.Mutex // guards calls
	calls  map[int32]chan *remoting.Command
}

// ClientID returns the clientID of the connection's last heartbeat, or "".
func (cn *conn) ClientID() string {
	if p := cn.clientID.Load(); p != nil {
		return *p
	}
	return ""
}

func (cn *conn) readLoop() {
	defer cn.srv.wg.Done()
	defer cn.close(false)
	if tc, ok := cn.nc.(*tls.Conn); ok {
		// Handshake here, on the connection's goroutine, so that a slow
		// client does not hold up accepting others.
		if err := cn.srv.tls.handshake(tc); err != nil {
			cn.srv.log.Debug("TLS handshake failed", "remote", cn.remote, "err", err)
			return
		}
	}
	r := bufio.NewReaderSize(cn.nc, 64<<10)
	for {
		cmd, err := remoting.ReadCommand(r, remoting.DefaultMaxFrameSize)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				cn.srv.log.Debug("closing connection after a read error", "remote", cn.remote, "err", err)
			}
			return
		}
		if cmd.IsResponse() {
			// Only PUSH_REPLY_MESSAGE_TO_CLIENT waits for the client's answer
			// (39 and 40 are oneway).
			cn.deliver(cmd)
			continue
		}
		cn.dispatch(cmd)
	}
}

// dispatch runs the handler inline, or on its own goroutine when a delay fault is
// set for the code, and writes the response unless the request is oneway.
func (cn *conn) dispatch(req *remoting.Command) {
	cn.srv.handleRequest(cn, req)
}

// handleRequest is the default request path: run the handler, write the answer.
func (s *server) handleRequest(cn *conn, req *remoting.Command) {
	resp := s.handle(cn, req)
	if resp != nil && !req.IsOneway() {
		cn.write(resp)
	}
}

// write sends one command; errors close the connection.
func (cn *conn) write(cmd *remoting.Command) {
	if cn.dead.Load() {
		return
	}
	cn.writeMu.Lock()
	cn.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	err := remoting.WriteCommand(cn.nc, cmd)
	cn.writeMu.Unlock()
	if err != nil {
		cn.srv.log.Debug("write failed", "remote", cn.remote, "err", err)
		cn.close(false)
	}
}

// close closes the connection once; abrupt resets it.
func (cn *conn) close(abrupt bool) {
	cn.closeOnce.Do(func() {
		if abrupt {
			cn.dead.Store(true)
			if tc, ok := cn.raw.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
		}
		cn.nc.Close()
		close(cn.closed)
		cn.srv.mu.Lock()
		delete(cn.srv.conns, cn)
		cn.srv.mu.Unlock()
		if cn.srv.onClose != nil {
			cn.srv.onClose(cn)
		}
	})
}

// isClosed reports whether the connection has been closed.
func (cn *conn) isClosed() bool {
	select {
	case <-cn.closed:
		return true
	default:
		return false
	}
}
