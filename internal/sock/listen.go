package sock

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// ListenTCP returns a nonblocking listening TCP socket bound to ap, an IPv4
// or IPv6 address (port 0 picks a free port: see LocalAddr).
func ListenTCP(ap netip.AddrPort) (int, error) {
	sa, family, err := Sockaddr(ap)
	if err != nil {
		return -1, err
	}
	fd, err := Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, fmt.Errorf("sock: socket: %w", err)
	}
	// SO_REUSEADDR lets a restarted server bind its port again at once, while
	// connections from its previous run linger in TIME_WAIT.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock: setsockopt SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock: bind %s: %w", ap, err)
	}
	// The backlog holds connections the kernel has completed and we have
	// not accepted yet; the kernel caps it at its own limit.
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock: listen %s: %w", ap, err)
	}
	return fd, nil
}

// Sockaddr converts ap into the form the socket calls take, with its
// address family. An IPv4-mapped IPv6 address is treated as IPv4; an IPv6
// zone names an interface or gives its index.
func Sockaddr(ap netip.AddrPort) (unix.Sockaddr, int, error) {
	addr := ap.Addr().Unmap()
	switch {
	case addr.Is4():
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: addr.As4()}, unix.AF_INET, nil
	case addr.Is6():
		sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: addr.As16()}
		if zone := addr.Zone(); zone != "" {
			if ifi, err := net.InterfaceByName(zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			} else if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
				sa.ZoneId = uint32(n)
			} else {
				return nil, 0, fmt.Errorf("sock: unknown IPv6 zone %q", zone)
			}
		}
		return sa, unix.AF_INET6, nil
	}
	return nil, 0, fmt.Errorf("sock: invalid address %q", ap)
}

// LocalAddr returns the local address of the socket fd.
func LocalAddr(fd int) (netip.AddrPort, error) {
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
	return netip.AddrPort{}, fmt.Errorf("sock: unexpected socket address %T", sa)
}
