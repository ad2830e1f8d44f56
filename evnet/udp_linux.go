//go:build linux

package evnet

// Batched UDP on Linux: recvmmsg(2) and sendmmsg(2) move up to udpMaxBatch
// datagrams per system call, through arrays of mmsghdr, iovec and sockaddr
// prepared once per loop. Sender addresses are decoded from the raw
// sockaddr bytes, so that no unix.Sockaddr is allocated per datagram.

import (
	"net/netip"
	"strconv"
	"unsafe"

	"github.com/eddyloop/eddy/internal/sock"
	"golang.org/x/sys/unix"
)

// udpHaveBatch reports that this system has recvmmsg and sendmmsg.
const udpHaveBatch = true

// udpBatch holds the arrays of one udpShared. The receive arrays point into
// udpShared.buf, one MaxPacketSize slot per message; the send arrays point
// at the caller's datagrams only for the duration of one call.
type udpBatch struct {
	rmsgs  []unix.Mmsghdr
	riov   []unix.Iovec
	raddrs []unix.RawSockaddrAny
	smsgs  []unix.Mmsghdr
	siov   []unix.Iovec
	saddrs []unix.RawSockaddrAny
}

func (b *udpBatch) init(buf []byte, n, size int) {
	b.rmsgs = make([]unix.Mmsghdr, n)
	b.riov = make([]unix.Iovec, n)
	b.raddrs = make([]unix.RawSockaddrAny, n)
	for i := range n {
		b.riov[i].Base = &buf[i*size]
		b.riov[i].SetLen(size)
		h := &b.rmsgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.raddrs[i]))
		h.Iov = &b.riov[i]
		h.SetIovlen(1)
	}
	b.smsgs = make([]unix.Mmsghdr, udpMaxBatch)
	b.siov = make([]unix.Iovec, udpMaxBatch)
	b.saddrs = make([]unix.RawSockaddrAny, udpMaxBatch)
	for i := range udpMaxBatch {
		b.smsgs[i].Hdr.Iov = &b.siov[i]
		b.smsgs[i].Hdr.SetIovlen(1)
	}
}

// udpMmsg calls recvmmsg or sendmmsg (trap) on msgs, retrying on EINTR.
// golang.org/x/sys/unix (v0.49.0) declares unix.Mmsghdr and the system call
// numbers but has no wrapper for either call, hence the raw Syscall6 here.
// The timeout argument of recvmmsg is NULL, and the socket is nonblocking.
func udpMmsg(trap uintptr, fd int, msgs []unix.Mmsghdr) (int, error) {
	for {
		r, _, e := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

// readBatch reads up to MaxReadsPerEvent datagrams with recvmmsg and hands
// each to the handler. The handler's answers on c are queued meanwhile
// (corked) and sent together afterwards, with as few sendmmsg calls as the
// batch allows.
func (c *PacketConn) readBatch() {
	c.corked = true
	c.readBatchCorked()
	c.corked = false
	if c.qhead < len(c.q) && !c.closed {
		c.flush()
	}
}

func (c *PacketConn) readBatchCorked() {
	sh := c.bufs
	b := &sh.udpBatch
	size := c.cfg.MaxPacketSize
	for budget := c.cfg.MaxReadsPerEvent; budget > 0; {
		want := min(budget, len(b.rmsgs))
		for i := range want {
			b.rmsgs[i].Hdr.Namelen = unix.SizeofSockaddrAny
			b.rmsgs[i].Hdr.Flags = 0
		}
		n, err := udpMmsg(unix.SYS_RECVMMSG, c.fd, b.rmsgs[:want])
		if err != nil {
			if err == unix.EAGAIN || c.readError(err) {
				return
			}
			budget--
			continue
		}
		for i := range n {
			m := &b.rmsgs[i]
			from := udpDecodeSockaddr(&b.raddrs[i])
			if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
				c.report(udpTruncated(from))
			} else {
				c.h(c, sh.buf[i*size:i*size+int(m.Len)], from)
			}
			if c.closed {
				return
			}
		}
		budget -= n
		if n < want {
			return
		}
	}
}

// sendNow sends one datagram with a one-message sendmmsg, which, unlike
// unix.Sendto, needs no unix.Sockaddr allocated. On a connected socket a
// plain write(2) would do as well, but measures no faster (about 3 µs
// either way on loopback, where the send path's cost is the kernel's
// delivery, not the message header): one path serves both.
func (c *PacketConn) sendNow(p []byte, to netip.AddrPort) error {
	b := &c.bufs.udpBatch
	if err := c.udpFill(0, p, to); err != nil {
		return err
	}
	_, err := udpMmsg(unix.SYS_SENDMMSG, c.fd, b.smsgs[:1])
	b.siov[0].Base = nil
	return err
}

// sendQueued sends the head of the queue with one sendmmsg and returns how
// many datagrams left. With n == 0 the error is the first datagram's.
func (c *PacketConn) sendQueued() (int, error) {
	b := &c.bufs.udpBatch
	k := min(len(c.q)-c.qhead, udpMaxBatch)
	for i := range k {
		p := &c.q[c.qhead+i]
		if err := c.udpFill(i, p.b, p.to); err != nil {
			if i == 0 {
				return 0, err
			}
			k = i
			break
		}
	}
	n, err := udpMmsg(unix.SYS_SENDMMSG, c.fd, b.smsgs[:k])
	for i := range k {
		b.siov[i].Base = nil
	}
	return n, err
}

// udpFill prepares send message i for the datagram p to to.
func (c *PacketConn) udpFill(i int, p []byte, to netip.AddrPort) error {
	b := &c.bufs.udpBatch
	h := &b.smsgs[i].Hdr
	if c.connected {
		h.Name, h.Namelen = nil, 0
	} else {
		n, err := udpEncodeSockaddr(&b.saddrs[i], to, c.family)
		if err != nil {
			return err
		}
		h.Name, h.Namelen = (*byte)(unsafe.Pointer(&b.saddrs[i])), n
	}
	if len(p) > 0 {
		b.siov[i].Base = &p[0]
	}
	b.siov[i].SetLen(len(p))
	return nil
}

// udpDecodeSockaddr reads a sockaddr_in or sockaddr_in6 written by the
// kernel; IPv4-mapped addresses are unmapped. The port is in network byte
// order.
func udpDecodeSockaddr(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), udpGetPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.Scope_id != 0 && a.Is6() {
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, udpGetPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// udpEncodeSockaddr writes to as the sockaddr a socket of the given family
// takes (an IPv4 address becomes IPv4-mapped on an IPv6 socket) and
// returns its length.
func udpEncodeSockaddr(rsa *unix.RawSockaddrAny, to netip.AddrPort, family int) (uint32, error) {
	a := to.Addr().Unmap()
	switch {
	case family == unix.AF_INET && a.Is4():
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		udpPutPort(&sa.Port, to.Port())
		return unix.SizeofSockaddrInet4, nil
	case family == unix.AF_INET6 && (a.Is4() || a.Is6()):
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		udpPutPort(&sa.Port, to.Port())
		if a.Zone() != "" {
			s, _, err := sock.Sockaddr(to) // resolves the zone to an index
			if err != nil {
				return 0, err
			}
			sa.Scope_id = s.(*unix.SockaddrInet6).ZoneId
		}
		return unix.SizeofSockaddrInet6, nil
	}
	return 0, errPacketFamily
}

func udpGetPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func udpPutPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}
