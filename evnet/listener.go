package evnet

// Listeners: Listen and ListenConfig, accepting (and pausing when out of
// descriptors), and the parsing of listen and dial addresses.

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/sock"
)

// ListenConfig holds the options of a listener. Its zero value is the
// default: SO_REUSEADDR (for TCP), no SO_REUSEPORT, the system's largest
// backlog, and the default ConnConfig for the connections.
type ListenConfig struct {
	// ReusePort sets SO_REUSEPORT, so that several listeners (one per loop)
	// can share the address and the kernel spreads connections among them.
	ReusePort bool
	// Backlog is the listen backlog; zero means SOMAXCONN.
	Backlog int
	// Conn applies to every accepted connection.
	Conn ConnConfig
	// TLS, if not nil, makes every accepted connection a TLS server
	// connection (see TLSConfig): its handler sees plaintext.
	TLS *TLSConfig
}

// Listener accepts stream connections on a loop and serves each with the
// listener's Handler. Its methods must be called on the loop's goroutine.
//
// The special problem of running out of descriptors: when accept fails
// with EMFILE or ENFILE, the pending connection cannot be taken and the
// listening socket stays readable, which would make a naive loop spin. A
// Listener instead stops accepting for 100ms (the connections already open
// go on being served), tries again, and reports the condition once through
// ConnConfig.Logf until accepting succeeds again.
type Listener struct {
	w       eddy.IO
	retry   eddy.Timer
	sh      *shared
	fd      int
	network string
	path    string // Unix socket path to remove on Close
	addr    netip.AddrPort
	paused  bool // out of descriptors
	// dispatch, if set, takes the accepted descriptors instead of serve
	// (a Group's acceptor handing them to other loops).
	dispatch func(fd int)
	closed   bool
	// group holds the other loops' listeners of the Group.Listen call
	// that returned this one, whose Stats sum theirs. Set before Listen
	// returns, immutable after.
	group []*Listener
}

// Listen listens with the default ListenConfig. See ListenConfig.Listen.
func Listen(l *eddy.Loop, network, address string, h Handler) (*Listener, error) {
	return ListenConfig{}.Listen(l, network, address, h)
}

// Listen listens on address and serves the accepted connections with h.
// It must be called on the loop's goroutine (or before the loop runs).
// The network is "tcp" (dual-stack when the address is [::] or has no
// host), "tcp4", "tcp6" (IPv6 only), or "unix" (a path, or "@name" for a
// Linux abstract socket). A TCP address is a literal "IP:port" (port 0
// picks a free port: see Addr).
func (lc ListenConfig) Listen(l *eddy.Loop, network, address string, h Handler) (*Listener, error) {
	return lc.listen(l, network, address, h, nil)
}

// listen is Listen for the Group member m, if not nil, which then keeps
// track of the connections.
func (lc ListenConfig) listen(l *eddy.Loop, network, address string, h Handler, m *member) (*Listener, error) {
	var (
		sa     unix.Sockaddr
		family int
		o      = sock.ListenConfig{ReusePort: lc.ReusePort, Backlog: lc.Backlog, Buffers: lc.Conn.buffers()}
		ln     = &Listener{network: network}
	)
	switch network {
	case "tcp", "tcp4", "tcp6":
		ap, err := parseAddrPort(network, address)
		if err != nil {
			return nil, err
		}
		sa, family, err = sock.Sockaddr(ap)
		if err != nil {
			return nil, fmt.Errorf("evnet: listen: %w", err)
		}
		o.V6Only = network == "tcp6" || (network == "tcp" && !ap.Addr().IsUnspecified())
	case "unix":
		usa, err := sock.UnixSockaddr(address)
		if err != nil {
			return nil, fmt.Errorf("evnet: listen: %w", err)
		}
		sa, family = usa, unix.AF_UNIX
		if !strings.HasPrefix(address, "@") {
			ln.path = address
		}
	default:
		return nil, fmt.Errorf("evnet: listen: unknown network %q", network)
	}
	fd, err := sock.ListenStream(family, sa, o)
	if err != nil {
		return nil, fmt.Errorf("evnet: listen %s %s: %w", network, address, err)
	}
	ln.fd = fd
	if family != unix.AF_UNIX {
		ln.addr, _ = sock.LocalAddr(fd)
	}
	ln.sh = &shared{h: h, o: lc.Conn.withDefaults(), ls: acquire(l), m: m, st: new(listenerCounters)}
	if lc.TLS != nil {
		ln.sh.tls = lc.TLS.server()
	}
	ln.w.Init(ln.onAccept, fd, eddy.Read)
	ln.retry.Init(ln.onRetry, acceptRetryDelay, 0)
	if err := ln.w.Start(l); err != nil {
		ln.sh.ls.release()
		unix.Close(fd)
		return nil, fmt.Errorf("evnet: listen: %w", err)
	}
	ln.sh.ls.listeners = append(ln.sh.ls.listeners, ln)
	return ln, nil
}

// parseAddrPort parses a literal TCP address; an empty host means the
// unspecified address of the network.
func parseAddrPort(network, address string) (netip.AddrPort, error) {
	if strings.HasPrefix(address, ":") {
		if network == "tcp4" {
			address = "0.0.0.0" + address
		} else {
			address = "[::]" + address
		}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return ap, fmt.Errorf("evnet: %w", err)
	}
	switch {
	case network == "tcp4" && !ap.Addr().Unmap().Is4():
		return ap, fmt.Errorf("evnet: %s is not an IPv4 address", address)
	case network == "tcp6" && !ap.Addr().Is6():
		return ap, fmt.Errorf("evnet: %s is not an IPv6 address", address)
	}
	return ap, nil
}

// Addr returns the local address of a TCP listener (with the port the
// system picked for port 0); the zero AddrPort for a Unix listener.
func (ln *Listener) Addr() netip.AddrPort { return ln.addr }

// Fd returns the listening socket, or -1 after Close.
func (ln *Listener) Fd() int {
	if ln.closed {
		return -1
	}
	return ln.fd
}

// Accepted returns the number of connections accepted so far (by this
// listener alone: see Stats for a Group's). It may be called from any
// goroutine.
func (ln *Listener) Accepted() uint64 { return ln.sh.st.accepted.Load() }

// Close stops accepting and closes the listening socket (and removes a
// Unix socket's path). The connections already accepted stay open.
func (ln *Listener) Close() error {
	if ln.closed {
		return ErrClosed
	}
	ln.closed = true
	ln.w.StopForClose(true) // a listener is often shared (inherited, passed on): remove it now
	ln.retry.Stop()
	err := unix.Close(ln.fd)
	if ln.path != "" {
		unix.Unlink(ln.path)
	}
	remove(&ln.sh.ls.listeners, ln)
	ln.sh.ls.release()
	if err != nil {
		return fmt.Errorf("evnet: close listener: %w", err)
	}
	return nil
}

func (ln *Listener) onAccept(*eddy.IO, eddy.Events) {
	for range maxAcceptsPerEvent {
		if ln.closed {
			return
		}
		fd, err := rawAccept(ln.fd)
		switch {
		case err == nil:
		case err == unix.EAGAIN:
			return
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			ln.pause(err)
			return
		case err == unix.ECONNABORTED || err == unix.EPROTO || err == unix.EPERM:
			continue // the peer gave up, or a firewall refused: next
		default:
			ln.logf("evnet: accept on %s: %v", ln.describe(), err)
			return
		}
		if ln.paused {
			ln.paused = false
			ln.logf("evnet: accepting again on %s", ln.describe())
		}
		ln.sh.st.accepted.Add(1)
		if ln.dispatch != nil {
			ln.dispatch(fd)
			continue
		}
		ln.serve(fd)
	}
}

// serve makes a connection of an accepted descriptor.
func (ln *Listener) serve(fd int) {
	if ln.network != "unix" && !ln.sh.o.Delay {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if ln.network == "unix" {
		// An accepted Unix socket does not inherit the listening socket's
		// buffer sizes, as a TCP one does; it has no window to settle.
		ln.sh.o.buffers().Set(fd)
	}
	c := newConn(ln.sh, fd)
	if err := c.start(eddy.Read); err != nil {
		unix.Close(fd)
		ln.sh.st.closed[CloseError].Add(1)
		ln.logf("evnet: %v", err)
		return
	}
	c.accepted()
}

// pause stops accepting for acceptRetryDelay after the descriptors ran out.
func (ln *Listener) pause(err error) {
	if !ln.paused {
		ln.paused = true
		ln.logf("evnet: accept on %s: %v; pausing accept for %v", ln.describe(), err, acceptRetryDelay)
	}
	ln.w.Stop()
	ln.retry.Start(ln.sh.ls.loop)
}

func (ln *Listener) onRetry(*eddy.Timer) {
	if ln.closed {
		return
	}
	if err := ln.w.Start(ln.sh.ls.loop); err != nil {
		ln.logf("evnet: %v", err)
	}
}

func (ln *Listener) describe() string {
	if ln.network == "unix" {
		return "unix " + ln.path
	}
	return ln.network + " " + ln.addr.String()
}

func (ln *Listener) logf(format string, args ...any) {
	if f := ln.sh.o.Logf; f != nil {
		f(format, args...)
	}
}
