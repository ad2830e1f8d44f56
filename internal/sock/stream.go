package sock

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ListenConfig are the options of ListenStream. The zero value asks for a
// dual-stack socket when the address is the IPv6 unspecified address, no
// SO_REUSEPORT and the system's largest backlog.
type ListenConfig struct {
	// ReusePort sets SO_REUSEPORT, so that several sockets (one per loop)
	// may listen on the same address and the kernel spreads connections.
	ReusePort bool
	// Backlog is the listen backlog; zero or less means SOMAXCONN.
	Backlog int
	// V6Only, when set, makes an IPv6 socket refuse IPv4 peers; otherwise an
	// IPv6 socket is dual-stack.
	V6Only bool
	// Buffers are the socket buffer sizes the accepted connections inherit.
	Buffers Buffers
}

// Buffers are the kernel's socket buffer sizes for a socket, in bytes,
// set before it listens or connects: zero leaves a size to the system.
type Buffers struct {
	Recv, Send int
}

// Set sets the sizes on fd.
func (b Buffers) Set(fd int) error {
	if b.Recv > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, b.Recv); err != nil {
			return fmt.Errorf("setsockopt SO_RCVBUF: %w", err)
		}
	}
	if b.Send > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, b.Send); err != nil {
			return fmt.Errorf("setsockopt SO_SNDBUF: %w", err)
		}
	}
	return nil
}

// ListenStream returns a nonblocking listening stream socket bound to the
// socket address sa of the given family (AF_INET, AF_INET6 or AF_UNIX),
// with SO_REUSEADDR set for IP sockets.
func ListenStream(family int, sa unix.Sockaddr, o ListenConfig) (int, error) {
	fd, err := Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, fmt.Errorf("sock: socket: %w", err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("sock: %s: %w", what, err)
	}
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt SO_REUSEADDR", err)
		}
		if o.ReusePort {
			if err := setReusePort(fd); err != nil {
				return fail("setsockopt SO_REUSEPORT", err)
			}
		}
	}
	if family == unix.AF_INET6 {
		v := 0
		if o.V6Only {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return fail("setsockopt IPV6_V6ONLY", err)
		}
	}
	if err := o.Buffers.Set(fd); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	backlog := o.Backlog
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

// UnixSockaddr returns the socket address of a Unix socket path. A path
// starting with '@' names a Linux abstract socket.
func UnixSockaddr(path string) (*unix.SockaddrUnix, error) {
	if path == "" {
		return nil, errors.New("sock: empty Unix socket path")
	}
	return &unix.SockaddrUnix{Name: path}, nil
}

// Connect starts a nonblocking connect of a new stream socket of the given
// family, with the buffer sizes b, to sa. It returns the socket and whether
// the connection is still in progress (EINPROGRESS): the socket then
// becomes writable when it ends, and ConnectResult tells how.
func Connect(family int, sa unix.Sockaddr, b Buffers) (fd int, inProgress bool, err error) {
	fd, err = Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, false, fmt.Errorf("sock: socket: %w", err)
	}
	if err := b.Set(fd); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("sock: %w", err)
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	switch err {
	case nil:
		return fd, false, nil
	case unix.EINPROGRESS, unix.EALREADY:
		return fd, true, nil
	case unix.EAGAIN:
		// A Unix socket whose listener's backlog is full.
		unix.Close(fd)
		return -1, false, fmt.Errorf("sock: connect: %w", err)
	}
	unix.Close(fd)
	return -1, false, fmt.Errorf("sock: connect: %w", err)
}

// ConnectResult returns the outcome of a nonblocking connect on fd
// (SO_ERROR): nil when it succeeded.
func ConnectResult(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("sock: getsockopt SO_ERROR: %w", err)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// AddrPortOf converts an IP socket address to a netip.AddrPort; the second
// result is false for other kinds of address.
func AddrPortOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// SetLinger sets SO_LINGER on fd: sec < 0 turns lingering off (the
// default), 0 makes close send a reset, and sec > 0 makes close wait up to
// that many seconds for the queued data to be sent.
func SetLinger(fd, sec int) error {
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l)
}
