package main

// eddy hello: the classic hello-world HTTP server, written directly on
// eddy's watchers to show the raw API. Read it in this order:
//
//	hello.go       the command, the loop, signals, and the listening socket
//	hello_conn.go  one connection: reading, writing, backpressure, closing
//	hello_http.go  just enough HTTP/1.1 to find requests and answer them
//	hello_sock*.go sockets born nonblocking and close-on-exec (accept4 where
//	               the system has it)
//
// Everything runs on one goroutine, the loop's: the callbacks below are
// called one at a time and must never block, so every socket is nonblocking
// and every system call that would wait returns EAGAIN instead. It uses
// only eddy's public API and golang.org/x/sys/unix, so that it can be
// copied out of this module as it is.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
)

const (
	// maxAcceptsPerEvent bounds the connections accepted for one readiness
	// event of the listener, so that a flood of new connections cannot
	// starve the ones already open: after that many, the loop serves
	// everyone else and comes back (the listener is level-triggered).
	maxAcceptsPerEvent = 64
	// acceptRetryDelay is how long accepting pauses after the process ran
	// out of descriptors.
	acceptRetryDelay = 100 * time.Millisecond
	// readBufferSize is the size of the read buffer all connections share.
	readBufferSize = 64 << 10
)

// runHello is "eddy hello": it serves until SIGINT or SIGTERM, then exits 0
// with a last line of counts on stderr.
func runHello(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("hello", "[-addr IP:PORT] [-stats INTERVAL] [-backend NAME]", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen on `IP:PORT` (IPv4 or [IPv6])")
	statsEvery := fs.Duration("stats", 0, "print connection counts to stderr every `INTERVAL` (0: never)")
	backend := backendFlag(fs)
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		return usageError(fs, "-addr: %v", err)
	}
	if *statsEvery < 0 {
		return usageError(fs, "-stats: negative interval %v", *statsEvery)
	}

	// 1. A loop, on the readiness backend -backend names.
	loop, err := eddy.NewLoop(&eddy.Config{BackendName: *backend})
	if errors.Is(err, eddy.ErrUnknownBackend) {
		return usageError(fs, "-backend: %v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "eddy hello: %v\n", err)
		return 1
	}
	defer loop.Close()

	// 2. Signal watchers, before the socket exists: from the moment the
	// server accepts, SIGINT and SIGTERM are callbacks on the loop instead of
	// the default action (dying mid-write).
	var srv *helloServer
	var sigint, sigterm eddy.Signal
	var caught syscall.Signal
	onSignal := func(s *eddy.Signal) {
		caught = s.Signum()
		sigint.Stop()
		sigterm.Stop()
		srv.close()               // the listener and every connection
		loop.Break(eddy.BreakAll) // and Run returns after this iteration
	}
	sigint.Init(onSignal, unix.SIGINT)
	sigterm.Init(onSignal, unix.SIGTERM)
	for _, s := range []*eddy.Signal{&sigint, &sigterm} {
		if err := s.Start(loop); err != nil {
			fmt.Fprintf(stderr, "eddy hello: %v\n", err)
			return 1
		}
	}

	// 3. The listening socket and its accept watcher.
	fd, err := listenTCP(ap)
	if err != nil {
		fmt.Fprintf(stderr, "eddy hello: %v\n", err)
		return 1
	}
	srv, err = newHelloServer(loop, fd, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "eddy hello: %v\n", err)
		return 1
	}
	srv.startStats(*statsEvery)
	bound, _ := localAddr(fd)
	fmt.Fprintf(stderr, "eddy hello: listening on http://%s/ (%s backend)\n", bound, loop.Backend())

	// 4. Run until a signal breaks the loop.
	if err := loop.Run(); err != nil {
		fmt.Fprintf(stderr, "eddy hello: %v\n", err)
		return 1
	}
	if srv.err != nil { // the listener failed
		fmt.Fprintf(stderr, "eddy hello: %v\n", srv.err)
		return 1
	}
	fmt.Fprintf(stderr, "eddy hello: %v: stopped after %s and %s\n",
		caught, count(srv.accepted, "connection"), count(srv.requests, "request"))
	return 0
}

// helloServer is the listening side: it accepts connections and keeps the
// counters. All its fields belong to the loop's goroutine.
type helloServer struct {
	loop   *eddy.Loop
	fd     int        // the listening socket
	accept eddy.IO    // readable while connections wait to be accepted
	retry  eddy.Timer // resumes accepting after the descriptors ran out
	stats  eddy.Timer // prints the counters
	log    io.Writer

	conns map[*helloConn]struct{} // the open connections
	// buf and out are scratch space shared by every connection: the loop
	// runs one callback at a time, so one read buffer and one response
	// buffer serve them all. A connection keeps only what is left over.
	buf, out []byte

	accepted uint64 // connections accepted
	requests uint64 // requests answered
	stalls   uint64 // writes the kernel did not take whole
	pauses   uint64 // times accepting paused for lack of descriptors
	err      error  // why the listener stopped, if it failed
	closed   bool
}

// newHelloServer serves the listening socket fd on l. It takes fd over:
// close closes it, and so does newHelloServer when it fails.
func newHelloServer(l *eddy.Loop, fd int, log io.Writer) (*helloServer, error) {
	s := &helloServer{
		loop:  l,
		fd:    fd,
		log:   log,
		conns: make(map[*helloConn]struct{}),
		buf:   make([]byte, readBufferSize),
	}
	// Method values as callbacks: s.onAccept carries s along, so the
	// callback needs no lookup to find its server.
	s.accept.Init(s.onAccept, fd, eddy.Read)
	s.retry.Init(s.onRetry, acceptRetryDelay, 0)
	if err := s.accept.Start(l); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

// onAccept runs when the listener is readable: connections are waiting.
func (s *helloServer) onAccept(w *eddy.IO, ev eddy.Events) {
	for range maxAcceptsPerEvent {
		fd, err := accept(s.fd)
		switch err {
		case nil:
			s.serve(fd)
		case unix.EAGAIN:
			return // the queue is empty: wait for the next readiness event
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of descriptors (or kernel memory). The connection stays
			// in the queue, so the listener stays readable and a
			// level-triggered watcher would call us again at once: a busy
			// loop. Stop watching instead, and try again a little later.
			if s.pauses == 0 {
				fmt.Fprintf(s.log, "eddy hello: accept: %v; pausing accept for %v (logged once)\n", err, acceptRetryDelay)
			}
			s.pauses++
			s.accept.Stop()
			s.retry.Start(s.loop)
			return
		case unix.EBADF, unix.EINVAL, unix.ENOTSOCK, unix.EOPNOTSUPP, unix.EFAULT:
			// The listener itself is broken: give up.
			s.fail(fmt.Errorf("accept: %w", err))
			return
		default:
			// ECONNABORTED and friends: that one connection died while
			// it waited in the queue. Take the next.
		}
	}
}

// onRetry resumes accepting after a pause.
func (s *helloServer) onRetry(t *eddy.Timer) {
	if err := s.accept.Start(s.loop); err != nil {
		s.fail(err)
	}
}

// fail stops the server for good after the listener broke, and makes the
// loop's Run return so that the command can report err.
func (s *helloServer) fail(err error) {
	s.err = err
	s.close()
	s.loop.Break(eddy.BreakAll)
}

// serve starts a connection on the accepted socket fd.
func (s *helloServer) serve(fd int) {
	s.accepted++
	// Responses are written whole, so Nagle's algorithm would only delay
	// them.
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c := &helloConn{srv: s, fd: fd}
	c.io.Init(c.onEvent, fd, eddy.Read)
	c.linger.Init(c.onLinger, lingerTime, 0)
	if err := c.io.Start(s.loop); err != nil {
		unix.Close(fd)
		return
	}
	s.conns[c] = struct{}{}
}

// startStats prints the counters every interval; 0 means never.
func (s *helloServer) startStats(every time.Duration) {
	if every <= 0 {
		return
	}
	s.stats.Init(s.onStats, every, every)
	s.stats.Start(s.loop)
}

func (s *helloServer) onStats(t *eddy.Timer) {
	fmt.Fprintf(s.log, "eddy hello: %d open, %d accepted, %d requests, %d stalled writes, %d accept pauses\n",
		len(s.conns), s.accepted, s.requests, s.stalls, s.pauses)
}

// close stops accepting and closes every connection at once. With nothing
// left active, the loop's Run returns.
func (s *helloServer) close() {
	if s.closed {
		return
	}
	s.closed = true
	// Stop the watchers first, then close the descriptor: a watcher must
	// never outlive its fd (the fd number may be reused at once).
	// StopForClose: the close removes the registration of our own socket.
	s.accept.StopForClose(false)
	s.retry.Stop()
	s.stats.Stop()
	unix.Close(s.fd)
	for c := range s.conns {
		c.close()
	}
}

// listenTCP returns a nonblocking listening TCP socket bound to ap, an IPv4
// or IPv6 address; port 0 picks a free port (see localAddr).
func listenTCP(ap netip.AddrPort) (int, error) {
	sa, family, err := sockaddr(ap)
	if err != nil {
		return -1, err
	}
	fd, err := socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	// SO_REUSEADDR lets a restarted server bind its port again at once,
	// while connections from its previous run linger in TIME_WAIT.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", ap, err)
	}
	// The backlog holds connections the kernel has completed and we have
	// not accepted yet; the kernel caps it at its own limit.
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen %s: %w", ap, err)
	}
	return fd, nil
}

// sockaddr converts ap into the form the socket calls take, with its
// address family. An IPv4-mapped IPv6 address is IPv4; an IPv6 zone names
// an interface.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int, error) {
	addr := ap.Addr().Unmap()
	if addr.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: addr.As4()}, unix.AF_INET, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: addr.As16()}
	if zone := addr.Zone(); zone != "" {
		ifi, err := net.InterfaceByName(zone)
		if err != nil {
			return nil, 0, err
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, unix.AF_INET6, nil
}

// localAddr returns the address the socket fd is bound to.
func localAddr(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("unexpected socket address %T", sa)
}
