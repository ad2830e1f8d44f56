package evnet

// UDP on the loop.
//
// A PacketConn is a UDP socket watched by one IO watcher. Datagrams are
// read when the socket is readable, into buffers shared by every
// PacketConn of the loop (a callback runs on the loop's goroutine, one at a
// time, so one set of buffers serves them all), and handed to the
// PacketHandler with the sender's address. On Linux they are read in
// batches with recvmmsg and the sender's address is decoded from the raw
// sockaddr bytes, so receiving allocates nothing; elsewhere one recvmsg per
// datagram. At most PacketConfig.MaxReadsPerEvent datagrams are read per
// readiness event, so that a flooded socket cannot starve the loop.
//
// Writes never block: WriteTo and Write send at once when nothing is
// queued; a datagram the kernel refuses with EAGAIN is copied into a
// bounded queue, flushed when the socket is writable (with sendmmsg on
// Linux). A full queue drops the datagram and says so: ErrPacketQueueFull.
// On Linux the answers a handler writes while a received batch is being
// delivered are corked: queued, then sent together in one sendmmsg.
//
// The file holds the whole of PacketConn, the one mechanism of UDP (its
// socket, reads, bounded send queue and close), which reads better whole
// than split like Conn's read and write paths.

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/sock"
	"golang.org/x/sys/unix"
)

var (
	// ErrPacketQueueFull is returned by WriteTo and Write when the kernel's
	// send buffer is full and the PacketConn's queue already holds
	// PacketConfig.MaxQueuedPackets datagrams or MaxQueuedBytes bytes: the
	// datagram was dropped.
	ErrPacketQueueFull = errors.New("evnet: packet queue full, datagram dropped")
	// ErrPacketTruncated is reported to PacketConfig.OnError when a datagram
	// was longer than PacketConfig.MaxPacketSize; it is dropped, not
	// delivered in part.
	ErrPacketTruncated = errors.New("evnet: datagram longer than MaxPacketSize, dropped")

	errPacketConnected    = errors.New("evnet: WriteTo on a connected packet connection (use Write)")
	errPacketNotConnected = errors.New("evnet: Write on an unconnected packet connection (use WriteTo)")
	errPacketNoHandler    = errors.New("evnet: nil PacketHandler")
	errPacketFamily       = errors.New("evnet: invalid address, or its family does not match the socket's")
)

// Defaults of PacketConfig.
const (
	udpDefaultMaxPacket   = 64 << 10
	udpDefaultQueuePkts   = 1024
	udpDefaultQueueBytes  = 4 << 20
	udpDefaultReads       = 64
	udpBatchBytes         = 512 << 10 // receive buffer budget per loop and packet size
	udpMaxBatch           = 32        // datagrams per recvmmsg/sendmmsg call
	udpMaxFreeBufs        = 64        // queued-datagram buffers kept for reuse
	udpMaxPacketSizeLimit = 1 << 16
)

// PacketHandler is called on the loop's goroutine for every datagram a
// PacketConn receives, with the sender's address (IPv4-mapped IPv6
// addresses are unmapped). The bytes p belong to the loop and are valid
// only until the handler returns: copy what must be kept. The handler may
// call any method of c, Close included.
type PacketHandler func(c *PacketConn, p []byte, from netip.AddrPort)

// PacketConfig holds the options of ListenUDP and DialUDP. The zero value
// (or a nil *PacketConfig) is the documented default of every field.
type PacketConfig struct {
	// LocalAddr is the address DialUDP binds before connecting; the zero
	// value lets the kernel choose. ListenUDP ignores it.
	LocalAddr netip.AddrPort
	// ReuseAddr sets SO_REUSEADDR before binding. For UDP this lets
	// several sockets that all set it bind the same address (on Linux the
	// last one bound gets the unicast datagrams; every one gets multicast):
	// the usual setting for multicast receivers.
	ReuseAddr bool
	// ReusePort sets SO_REUSEPORT before binding, so that several sockets
	// (one per loop) can share an address and the kernel spreads the
	// datagrams among them.
	ReusePort bool
	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF, in bytes,
	// when positive; the kernel's defaults otherwise.
	ReadBuffer, WriteBuffer int
	// MaxPacketSize is the largest datagram received, in bytes (default and
	// maximum 65536). Longer ones are dropped and reported as
	// ErrPacketTruncated. Smaller sizes let more datagrams be read per
	// system call: the loop's receive buffers, shared by its PacketConns
	// with the same MaxPacketSize, hold up to 32 datagrams and 512 KiB.
	MaxPacketSize int
	// MaxReadsPerEvent caps the datagrams read per readiness event
	// (default 64); the rest wait for the next loop iteration.
	MaxReadsPerEvent int
	// MaxQueuedPackets and MaxQueuedBytes bound the queue of datagrams the
	// kernel refused with EAGAIN (defaults 1024 datagrams and 4 MiB). A write
	// that would exceed either returns ErrPacketQueueFull.
	MaxQueuedPackets, MaxQueuedBytes int
	// OnError, if set, is called on the loop's goroutine with errors that do
	// not close the PacketConn: ECONNREFUSED from an ICMP port unreachable on
	// a connected socket, a queued datagram the kernel rejected, a truncated
	// datagram. Without it they are ignored, as UDP losses are.
	OnError func(c *PacketConn, err error)
	// OnClose, if set, is called exactly once when the PacketConn closes:
	// with nil after Close, or with the error that closed it.
	OnClose func(c *PacketConn, err error)
}

// PacketConn is a UDP socket on a loop, bound (ListenUDP) or connected
// (DialUDP). Its methods must be called on the loop's goroutine. After
// Close every method that acts on the socket returns ErrClosed, and the
// descriptor, which the system may give to a new socket, is never touched
// again. Closing the loop closes it too, with the reason eddy.ErrClosed.
type PacketConn struct {
	loop      *eddy.Loop // immutable
	io        eddy.IO    // Read, plus Write while the queue is not empty
	fd        int        // -1 once closed
	family    int        // unix.AF_INET or unix.AF_INET6; immutable
	h         PacketHandler
	cfg       PacketConfig   // defaults filled in; immutable but OnClose, cleared when called
	local     netip.AddrPort // valid once localSet
	remote    netip.AddrPort // valid only when connected
	localSet  bool           // local is known (ListenUDP: at once; DialUDP: on the first LocalAddr)
	connected bool
	closed    bool
	perPacket bool       // no batching (the only path off Linux; a test seam on it)
	corked    bool       // delivering a received batch: replies are queued, then sent together
	bufs      *udpShared // the loop's receive and send buffers; nil once closed
	ls        *loopState // nil once closed

	q      []udpQueued // datagrams waiting for writable, from q[qhead]
	qhead  int
	qbytes int
	free   [][]byte // buffers of sent queued datagrams, for reuse
}

// udpQueued is a datagram the kernel refused with EAGAIN.
type udpQueued struct {
	b  []byte
	to netip.AddrPort // zero on a connected socket
}

// udpInjectSendErr, when set by a test, is consulted before every send
// system call; an error it returns stands for the call's result. Loopback
// never refuses a UDP send with EAGAIN (the kernel orphans the datagram from
// the sender's buffer as soon as it is handed to the receiver), so tests use
// it to exercise the queue.
var udpInjectSendErr func(c *PacketConn) error

// udpForcePerPacket makes new PacketConns read and write one datagram per
// system call even where batching exists: tests set it to cover both paths.
var udpForcePerPacket = false

// ListenUDP returns a PacketConn bound to ap, an IPv4 or IPv6 address
// (port 0 picks a free port: see LocalAddr), whose datagrams are handed to
// h on the loop l. It must be called on l's goroutine (or before l runs).
// The unspecified IPv6 address [::] accepts IPv4 datagrams too, where the
// system allows it (Linux does by default).
func ListenUDP(l *eddy.Loop, ap netip.AddrPort, h PacketHandler, cfg *PacketConfig) (*PacketConn, error) {
	if h == nil {
		return nil, errPacketNoHandler
	}
	c := &PacketConn{loop: l, h: h}
	c.setConfig(cfg)
	fd, family, err := sock.ListenUDP(ap, c.sockOptions())
	if err != nil {
		return nil, fmt.Errorf("evnet: listen udp %s: %w", ap, err)
	}
	// A listener's address is what its users ask first (port 0): learn it
	// now, so that it stays known after Close as well.
	local, err := sock.LocalAddr(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("evnet: listen udp %s: %w", ap, err)
	}
	c.setLocal(local)
	if err := c.start(fd, family); err != nil {
		return nil, fmt.Errorf("evnet: listen udp %s: %w", ap, err)
	}
	return c, nil
}

// DialUDP returns a PacketConn connected to raddr on the loop l: it sends
// with Write, receives only from raddr, and reports ICMP errors (such as
// ECONNREFUSED when nothing listens on raddr) to PacketConfig.OnError. No
// packet is sent by connecting. It must be called on l's goroutine (or
// before l runs).
func DialUDP(l *eddy.Loop, raddr netip.AddrPort, h PacketHandler, cfg *PacketConfig) (*PacketConn, error) {
	if h == nil {
		return nil, errPacketNoHandler
	}
	c := &PacketConn{loop: l, h: h, connected: true}
	c.setConfig(cfg)
	fd, family, err := sock.DialUDP(c.cfg.LocalAddr, raddr, c.sockOptions())
	if err != nil {
		return nil, fmt.Errorf("evnet: dial udp %s: %w", raddr, err)
	}
	c.remote = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	if err := c.start(fd, family); err != nil {
		return nil, fmt.Errorf("evnet: dial udp %s: %w", raddr, err)
	}
	return c, nil
}

func (c *PacketConn) setConfig(cfg *PacketConfig) {
	if cfg != nil {
		c.cfg = *cfg
	}
	if c.cfg.MaxPacketSize <= 0 || c.cfg.MaxPacketSize > udpMaxPacketSizeLimit {
		c.cfg.MaxPacketSize = udpDefaultMaxPacket
	}
	if c.cfg.MaxReadsPerEvent <= 0 {
		c.cfg.MaxReadsPerEvent = udpDefaultReads
	}
	if c.cfg.MaxQueuedPackets <= 0 {
		c.cfg.MaxQueuedPackets = udpDefaultQueuePkts
	}
	if c.cfg.MaxQueuedBytes <= 0 {
		c.cfg.MaxQueuedBytes = udpDefaultQueueBytes
	}
	c.perPacket = udpForcePerPacket || !udpHaveBatch
}

func (c *PacketConn) sockOptions() sock.UDPConfig {
	return sock.UDPConfig{
		ReuseAddr:   c.cfg.ReuseAddr,
		ReusePort:   c.cfg.ReusePort,
		ReadBuffer:  c.cfg.ReadBuffer,
		WriteBuffer: c.cfg.WriteBuffer,
	}
}

// start adopts the new socket fd and starts watching it. On failure fd is
// closed. The local address of a connected socket is not asked here: a
// client socket's users rarely need it, and getsockname is one more
// system call per socket (see LocalAddr).
func (c *PacketConn) start(fd, family int) error {
	c.fd, c.family = fd, family
	c.io.Init(c.onIO, fd, eddy.Read)
	if err := c.io.Start(c.loop); err != nil {
		unix.Close(fd)
		c.fd = -1
		return err
	}
	c.bufs = udpAcquire(c.loop, c.cfg.MaxPacketSize)
	c.ls = acquire(c.loop)
	c.ls.packets = append(c.ls.packets, c)
	return nil
}

// LocalAddr returns the address the socket is bound to. A PacketConn made
// by DialUDP learns it from the system on the first call (one getsockname,
// which a PacketConn that is never asked does without) and remembers it;
// asked for the first time after Close, it returns the zero AddrPort, as
// Conn.LocalAddr does.
func (c *PacketConn) LocalAddr() netip.AddrPort {
	if !c.localSet && !c.closed {
		if local, err := sock.LocalAddr(c.fd); err == nil {
			c.setLocal(local)
		}
	}
	return c.local
}

func (c *PacketConn) setLocal(local netip.AddrPort) {
	c.local, c.localSet = netip.AddrPortFrom(local.Addr().Unmap(), local.Port()), true
}

// RemoteAddr returns the peer of a connected PacketConn, and the zero
// AddrPort for one made by ListenUDP.
func (c *PacketConn) RemoteAddr() netip.AddrPort { return c.remote }

// Loop returns the loop the PacketConn belongs to.
func (c *PacketConn) Loop() *eddy.Loop { return c.loop }

// QueuedPackets returns the number of datagrams waiting in the queue for
// the socket to become writable.
func (c *PacketConn) QueuedPackets() int { return len(c.q) - c.qhead }

// WriteTo sends the datagram p to addr on a PacketConn made by ListenUDP,
// without blocking. If the kernel cannot take it now, a copy is queued and
// sent when the socket is writable, and WriteTo returns nil; if the queue is
// full the datagram is dropped and the error is ErrPacketQueueFull. Other
// errors are the kernel's (EMSGSIZE, ENETUNREACH, ...), wrapped. Datagrams
// leave in the order of the calls.
//
// On Linux, a datagram written from inside the PacketHandler to the
// PacketConn that received it (an answer) is queued instead of sent at
// once, and the answers to one batch of received datagrams leave together,
// in one sendmmsg, when the handler has seen the whole batch. Kernel errors
// for those go to OnError, since WriteTo has returned already.
func (c *PacketConn) WriteTo(p []byte, addr netip.AddrPort) error {
	if c.closed {
		return ErrClosed
	}
	if c.connected {
		return errPacketConnected
	}
	if a := addr.Addr(); !a.Unmap().Is4() && (c.family != unix.AF_INET6 || !a.Is6()) {
		return fmt.Errorf("evnet: write udp %s: %w", addr, errPacketFamily)
	}
	return c.write(p, addr)
}

// Write sends the datagram p to the peer of a PacketConn made by DialUDP,
// without blocking, as WriteTo does. An ICMP error from an earlier datagram
// may be returned here (ECONNREFUSED) if it was not yet reported to
// OnError.
func (c *PacketConn) Write(p []byte) error {
	if c.closed {
		return ErrClosed
	}
	if !c.connected {
		return errPacketNotConnected
	}
	return c.write(p, netip.AddrPort{})
}

func (c *PacketConn) write(p []byte, to netip.AddrPort) error {
	if c.qhead == len(c.q) && !c.corked {
		var err error
		switch {
		case udpInjectSendErr != nil && udpInjectSendErr(c) != nil:
			err = udpInjectSendErr(c)
		case c.perPacket:
			err = c.sendOne(p, to)
		default:
			err = c.sendNow(p, to)
		}
		if err == nil {
			return nil
		}
		if err != unix.EAGAIN {
			return c.writeError(to, err)
		}
	}
	return c.enqueue(p, to)
}

func (c *PacketConn) writeError(to netip.AddrPort, err error) error {
	if c.connected {
		return fmt.Errorf("evnet: write udp %s: %w", c.remote, err)
	}
	return fmt.Errorf("evnet: write udp %s: %w", to, err)
}

// enqueue queues a copy of p for the next writable event.
func (c *PacketConn) enqueue(p []byte, to netip.AddrPort) error {
	n := len(c.q) - c.qhead
	if n >= c.cfg.MaxQueuedPackets || c.qbytes+len(p) > c.cfg.MaxQueuedBytes {
		return fmt.Errorf("%w (%d datagrams, %d bytes queued)", ErrPacketQueueFull, n, c.qbytes)
	}
	var b []byte
	if k := len(c.free); k > 0 && cap(c.free[k-1]) >= len(p) {
		b = c.free[k-1][:len(p)]
		c.free[k-1] = nil
		c.free = c.free[:k-1]
	} else {
		b = make([]byte, len(p))
	}
	copy(b, p)
	if n == 0 {
		c.q, c.qhead = c.q[:0], 0
		c.io.Modify(eddy.Read | eddy.Write)
	}
	c.q = append(c.q, udpQueued{b: b, to: to})
	c.qbytes += len(p)
	return nil
}

// dequeue forgets the first n queued datagrams, which were sent or dropped.
func (c *PacketConn) dequeue(n int) {
	for i := c.qhead; i < c.qhead+n; i++ {
		b := c.q[i].b
		c.qbytes -= len(b)
		if len(c.free) < udpMaxFreeBufs {
			c.free = append(c.free, b[:0])
		}
		c.q[i] = udpQueued{}
	}
	c.qhead += n
	if c.qhead == len(c.q) {
		c.q, c.qhead = c.q[:0], 0
		if !c.closed {
			c.io.Modify(eddy.Read)
		}
	}
}

// flush sends queued datagrams until the queue is empty or the kernel says
// EAGAIN. A datagram the kernel rejects is dropped and reported.
func (c *PacketConn) flush() {
	for c.qhead < len(c.q) && !c.closed {
		var n int
		var err error
		switch {
		case udpInjectSendErr != nil && udpInjectSendErr(c) != nil:
			err = udpInjectSendErr(c)
		case c.perPacket:
			p := &c.q[c.qhead]
			if err = c.sendOne(p.b, p.to); err == nil {
				n = 1
			}
		default:
			n, err = c.sendQueued()
		}
		if n > 0 {
			c.dequeue(n)
		}
		switch {
		case err == nil:
		case err == unix.EAGAIN:
			return
		default:
			to := c.q[c.qhead].to
			c.dequeue(1)
			c.report(c.writeError(to, err))
		}
	}
}

// onIO is the IO watcher's callback.
func (c *PacketConn) onIO(w *eddy.IO, ev eddy.Events) {
	if err := w.Err(); err != nil {
		c.closeWith(err)
		return
	}
	if ev&eddy.Write != 0 {
		c.flush()
	}
	if ev&(eddy.Read|eddy.Error|eddy.Hangup) != 0 && !c.closed {
		if c.perPacket {
			c.readPerPacket()
		} else {
			c.readBatch()
		}
	}
}

// readPerPacket reads up to MaxReadsPerEvent datagrams, one recvmsg each.
func (c *PacketConn) readPerPacket() {
	buf := c.bufs.buf[:c.cfg.MaxPacketSize]
	for range c.cfg.MaxReadsPerEvent {
		n, flags, from, err := udpRecvOne(c.fd, buf)
		switch {
		case err == unix.EAGAIN:
			return
		case err != nil:
			if c.readError(err) {
				return
			}
			continue
		case flags&unix.MSG_TRUNC != 0:
			c.report(udpTruncated(from))
			continue
		}
		c.h(c, buf[:n], from)
		if c.closed {
			return
		}
	}
}

// readError reports a receive error and reports whether it closed the
// PacketConn. The errors a UDP socket queues from ICMP messages, and
// shortages of memory, leave it open; an error that means the descriptor
// itself is unusable closes it.
func (c *PacketConn) readError(err error) bool {
	switch err {
	case unix.EBADF, unix.ENOTSOCK, unix.EFAULT, unix.EINVAL:
		c.closeWith(fmt.Errorf("evnet: read udp %s: %w", c.LocalAddr(), err))
		return true
	}
	if c.connected {
		c.report(fmt.Errorf("evnet: read udp %s from %s: %w", c.LocalAddr(), c.remote, err))
	} else {
		c.report(fmt.Errorf("evnet: read udp %s: %w", c.LocalAddr(), err))
	}
	return c.closed
}

func (c *PacketConn) report(err error) {
	if f := c.cfg.OnError; f != nil {
		f(c, err)
	}
}

// Close closes the socket at once, dropping queued datagrams, and calls
// OnClose with nil. Closing from inside the PacketHandler is allowed: no
// further datagram is delivered. It returns an error if the PacketConn
// was already closed.
func (c *PacketConn) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closeWith(nil)
	return nil
}

func (c *PacketConn) closeWith(reason error) {
	if c.closed {
		return
	}
	c.closed = true
	c.io.StopForClose(false) // ours alone (no Fd, close-on-exec): the close removes it
	unix.Close(c.fd)
	c.fd = -1
	clear(c.q)
	c.q, c.qhead, c.qbytes, c.free = nil, 0, 0, nil
	udpRelease(c.bufs)
	c.bufs = nil
	remove(&c.ls.packets, c)
	c.ls.release()
	c.ls = nil
	if f := c.cfg.OnClose; f != nil {
		c.cfg.OnClose = nil
		f(c, reason)
	}
}

// JoinGroup joins the multicast group on the interface with index ifindex
// (see net.InterfaceByName), or on the interface the kernel picks by its
// routing table when ifindex is 0. The group's family must be the socket's.
func (c *PacketConn) JoinGroup(group netip.Addr, ifindex int) error {
	if c.closed {
		return ErrClosed
	}
	if err := sock.JoinGroup(c.fd, c.family, group, ifindex); err != nil {
		return fmt.Errorf("evnet: join group: %w", err)
	}
	return nil
}

// LeaveGroup leaves a multicast group joined with JoinGroup, with the same
// arguments.
func (c *PacketConn) LeaveGroup(group netip.Addr, ifindex int) error {
	if c.closed {
		return ErrClosed
	}
	if err := sock.LeaveGroup(c.fd, c.family, group, ifindex); err != nil {
		return fmt.Errorf("evnet: leave group: %w", err)
	}
	return nil
}

// SetMulticastInterface chooses the interface, by index, that multicast
// datagrams sent from this socket leave by; 0 restores the kernel's choice
// by routing table.
func (c *PacketConn) SetMulticastInterface(ifindex int) error {
	if c.closed {
		return ErrClosed
	}
	if err := sock.SetMulticastInterface(c.fd, c.family, ifindex); err != nil {
		return fmt.Errorf("evnet: %w", err)
	}
	return nil
}

// SetMulticastLoopback sets whether multicast datagrams sent from this
// socket are also delivered to members of the group on this host (the
// kernel's default is on).
func (c *PacketConn) SetMulticastLoopback(on bool) error {
	if c.closed {
		return ErrClosed
	}
	if err := sock.SetMulticastLoopback(c.fd, c.family, on); err != nil {
		return fmt.Errorf("evnet: %w", err)
	}
	return nil
}

// SetMulticastTTL sets how many routers multicast datagrams sent from this
// socket may cross, from 0 to 255 (the kernel's default is 1: the local
// network only).
func (c *PacketConn) SetMulticastTTL(ttl int) error {
	if c.closed {
		return ErrClosed
	}
	if err := sock.SetMulticastTTL(c.fd, c.family, ttl); err != nil {
		return fmt.Errorf("evnet: %w", err)
	}
	return nil
}

// udpSockaddr converts to for a socket of the given family: an IPv4
// address becomes IPv4-mapped on an IPv6 socket.
func udpSockaddr(to netip.AddrPort, family int) (unix.Sockaddr, error) {
	a := to.Addr().Unmap()
	if family == unix.AF_INET6 && a.Is4() {
		return &unix.SockaddrInet6{Port: int(to.Port()), Addr: a.As16()}, nil
	}
	sa, f, err := sock.Sockaddr(to)
	if err != nil {
		return nil, err
	}
	if f != family {
		return nil, errPacketFamily
	}
	return sa, nil
}

func udpTruncated(from netip.AddrPort) error {
	return fmt.Errorf("%w (from %s)", ErrPacketTruncated, from)
}

// udpRecvOne reads one datagram with recvmsg, which reports truncation.
func udpRecvOne(fd int, buf []byte) (n, flags int, from netip.AddrPort, err error) {
	for {
		var sa unix.Sockaddr
		n, _, flags, sa, err = unix.Recvmsg(fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, 0, netip.AddrPort{}, err
		}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			from = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
		}
		return n, flags, from, nil
	}
}

// sendOne sends one datagram with sendto (to is ignored when connected).
func (c *PacketConn) sendOne(p []byte, to netip.AddrPort) error {
	var sa unix.Sockaddr
	if !c.connected {
		var err error
		if sa, err = udpSockaddr(to, c.family); err != nil {
			return err
		}
	}
	for {
		err := unix.Sendto(c.fd, p, 0, sa)
		if err != unix.EINTR {
			return err
		}
	}
}

// udpShared holds the receive and send buffers of the PacketConns of one
// loop with one MaxPacketSize; it lives while one of them is open.
type udpShared struct {
	key  udpSharedKey
	refs int // guarded by udpPool.mu
	buf  []byte
	udpBatch
}

type udpSharedKey struct {
	loop *eddy.Loop
	size int
}

// udpPool finds the shared buffers of a loop. Its lock is taken only when a
// PacketConn opens or closes, never per datagram.
var udpPool struct {
	mu sync.Mutex
	m  map[udpSharedKey]*udpShared
}

func udpAcquire(l *eddy.Loop, size int) *udpShared {
	udpPool.mu.Lock()
	defer udpPool.mu.Unlock()
	k := udpSharedKey{l, size}
	s := udpPool.m[k]
	if s == nil {
		n := 1
		if udpHaveBatch {
			n = min(max(udpBatchBytes/size, 1), udpMaxBatch)
		}
		s = &udpShared{key: k, buf: make([]byte, n*size)}
		s.udpBatch.init(s.buf, n, size)
		if udpPool.m == nil {
			udpPool.m = make(map[udpSharedKey]*udpShared)
		}
		udpPool.m[k] = s
	}
	s.refs++
	return s
}

func udpRelease(s *udpShared) {
	if s == nil {
		return
	}
	udpPool.mu.Lock()
	defer udpPool.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(udpPool.m, s.key)
	}
}
