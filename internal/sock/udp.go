package sock

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// UDPConfig are the socket options ListenUDP and DialUDP set before they
// bind or connect. The zero value keeps the kernel's defaults.
type UDPConfig struct {
	// ReuseAddr sets SO_REUSEADDR. For UDP on Linux it lets several
	// sockets that all set it bind one address (as SO_REUSEPORT does, but
	// without spreading the datagrams): the usual setting for multicast
	// receivers, and off by default because any local process could then
	// take over the port.
	ReuseAddr bool
	// ReusePort sets SO_REUSEPORT, so that several sockets (one per loop)
	// can bind the same address and share its datagrams.
	ReusePort bool
	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF, in bytes,
	// when positive.
	ReadBuffer, WriteBuffer int
}

// ListenUDP returns a nonblocking UDP socket bound to ap (port 0 picks a
// free port: see LocalAddr), and its address family.
func ListenUDP(ap netip.AddrPort, o UDPConfig) (fd, family int, err error) {
	sa, family, err := Sockaddr(ap)
	if err != nil {
		return -1, 0, err
	}
	fd, err = udpSocket(family, o)
	if err != nil {
		return -1, 0, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("sock: bind %s: %w", ap, err)
	}
	return fd, family, nil
}

// DialUDP returns a nonblocking UDP socket connected to raddr, and its
// address family. A valid laddr is bound first; otherwise the kernel picks
// the local address and port. Connecting a UDP socket sends nothing: it
// fixes the peer, filters datagrams from others, and lets ICMP errors
// (ECONNREFUSED) be reported on the socket.
func DialUDP(laddr, raddr netip.AddrPort, o UDPConfig) (fd, family int, err error) {
	rsa, family, err := Sockaddr(raddr)
	if err != nil {
		return -1, 0, err
	}
	fd, err = udpSocket(family, o)
	if err != nil {
		return -1, 0, err
	}
	if laddr.IsValid() {
		lsa, lfamily, err := Sockaddr(laddr)
		if err == nil && lfamily != family {
			err = fmt.Errorf("sock: local address %s and remote address %s differ in family", laddr, raddr)
		}
		if err == nil {
			err = unix.Bind(fd, lsa)
		}
		if err != nil {
			unix.Close(fd)
			return -1, 0, fmt.Errorf("sock: bind %s: %w", laddr, err)
		}
	}
	// A UDP connect completes at once: there is no handshake to wait for.
	if err := unix.Connect(fd, rsa); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("sock: connect %s: %w", raddr, err)
	}
	return fd, family, nil
}

func udpSocket(family int, o UDPConfig) (int, error) {
	fd, err := Socket(family, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return -1, fmt.Errorf("sock: socket: %w", err)
	}
	set := func(name string, opt, v int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, v); err != nil {
			return fmt.Errorf("sock: setsockopt %s: %w", name, err)
		}
		return nil
	}
	if o.ReuseAddr {
		err = set("SO_REUSEADDR", unix.SO_REUSEADDR, 1)
	}
	if err == nil && o.ReusePort {
		err = set("SO_REUSEPORT", unix.SO_REUSEPORT, 1)
	}
	if err == nil && o.ReadBuffer > 0 {
		err = set("SO_RCVBUF", unix.SO_RCVBUF, o.ReadBuffer)
	}
	if err == nil && o.WriteBuffer > 0 {
		err = set("SO_SNDBUF", unix.SO_SNDBUF, o.WriteBuffer)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// JoinGroup makes the UDP socket fd, of the given address family, a member
// of the multicast group on the interface with index ifindex (0 lets the
// kernel choose by its routing table). An IPv4 group uses IP_ADD_MEMBERSHIP,
// which names the interface by one of its IPv4 addresses; an IPv6 group
// uses IPV6_JOIN_GROUP, which takes the index.
func JoinGroup(fd, family int, group netip.Addr, ifindex int) error {
	return membership(fd, family, group, ifindex, true)
}

// LeaveGroup undoes JoinGroup.
func LeaveGroup(fd, family int, group netip.Addr, ifindex int) error {
	return membership(fd, family, group, ifindex, false)
}

func membership(fd, family int, group netip.Addr, ifindex int, join bool) error {
	if !group.IsMulticast() {
		return fmt.Errorf("sock: %s is not a multicast address", group)
	}
	group = group.Unmap()
	if group.Is4() {
		if family != unix.AF_INET {
			return fmt.Errorf("sock: IPv4 group %s on an IPv6 socket", group)
		}
		mreq := unix.IPMreq{Multiaddr: group.As4()}
		if ifindex != 0 {
			a, err := interfaceAddr4(ifindex)
			if err != nil {
				return err
			}
			mreq.Interface = a
		}
		opt, name := unix.IP_ADD_MEMBERSHIP, "IP_ADD_MEMBERSHIP"
		if !join {
			opt, name = unix.IP_DROP_MEMBERSHIP, "IP_DROP_MEMBERSHIP"
		}
		if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, opt, &mreq); err != nil {
			return fmt.Errorf("sock: setsockopt %s %s: %w", name, group, err)
		}
		return nil
	}
	if family != unix.AF_INET6 {
		return fmt.Errorf("sock: IPv6 group %s on an IPv4 socket", group)
	}
	mreq := unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(ifindex)}
	opt, name := unix.IPV6_JOIN_GROUP, "IPV6_JOIN_GROUP"
	if !join {
		opt, name = unix.IPV6_LEAVE_GROUP, "IPV6_LEAVE_GROUP"
	}
	if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, opt, &mreq); err != nil {
		return fmt.Errorf("sock: setsockopt %s %s: %w", name, group, err)
	}
	return nil
}

// SetMulticastInterface chooses the interface, by index, that multicast
// datagrams sent on fd leave by (0 restores the kernel's choice).
func SetMulticastInterface(fd, family, ifindex int) error {
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex); err != nil {
			return fmt.Errorf("sock: setsockopt IPV6_MULTICAST_IF: %w", err)
		}
		return nil
	}
	var a [4]byte
	if ifindex != 0 {
		var err error
		if a, err = interfaceAddr4(ifindex); err != nil {
			return err
		}
	}
	if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, a); err != nil {
		return fmt.Errorf("sock: setsockopt IP_MULTICAST_IF: %w", err)
	}
	return nil
}

// SetMulticastLoopback sets whether multicast datagrams sent on fd are
// also delivered to this host's members of the group.
func SetMulticastLoopback(fd, family int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, v); err != nil {
			return fmt.Errorf("sock: setsockopt IPV6_MULTICAST_LOOP: %w", err)
		}
		return nil
	}
	// IP_MULTICAST_LOOP takes a byte on the BSDs and an int or a byte on
	// Linux: a byte suits both.
	if err := unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, byte(v)); err != nil {
		return fmt.Errorf("sock: setsockopt IP_MULTICAST_LOOP: %w", err)
	}
	return nil
}

// SetMulticastTTL sets the time to live (IPv4) or hop limit (IPv6) of
// multicast datagrams sent on fd, from 0 to 255.
func SetMulticastTTL(fd, family, ttl int) error {
	if ttl < 0 || ttl > 255 {
		return fmt.Errorf("sock: multicast TTL %d out of range 0..255", ttl)
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl); err != nil {
			return fmt.Errorf("sock: setsockopt IPV6_MULTICAST_HOPS: %w", err)
		}
		return nil
	}
	if err := unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, byte(ttl)); err != nil {
		return fmt.Errorf("sock: setsockopt IP_MULTICAST_TTL: %w", err)
	}
	return nil
}

// interfaceAddr4 returns the first IPv4 address of the interface with
// index ifindex: IPv4 multicast options name interfaces by address.
func interfaceAddr4(ifindex int) ([4]byte, error) {
	ifi, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return [4]byte{}, fmt.Errorf("sock: interface %d: %w", ifindex, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return [4]byte{}, fmt.Errorf("sock: addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return [4]byte(ip4), nil
			}
		}
	}
	return [4]byte{}, fmt.Errorf("sock: interface %s has no IPv4 address", ifi.Name)
}
