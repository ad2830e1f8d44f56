package main

// The io_uring backend.
//
//   - The listener has one multishot accept (IORING_ACCEPT_MULTISHOT), re-armed
//     when a completion comes without IORING_CQE_F_MORE.
//   - Each connection has one multishot receive (IORING_RECV_MULTISHOT,
//     IOSQE_BUFFER_SELECT) into the provided buffer ring, group 0. The data is
//     handled straight from the ring's buffer (echo: copied to the
//     connection's send buffer; HTTP: framed, the canned response appended)
//     and the buffer goes back to the ring at once; the ring's tail is
//     published once per iteration. A receive that ends (no F_MORE: ENOBUFS,
//     CQ overflow) is re-armed; one that ends with 0 or an error closes.
//   - At most one send per connection is in flight (so bytes cannot be
//     reordered); what arrives meanwhile is queued behind it and sent when
//     its completion comes. Sends carry MSG_WAITALL, so the kernel finishes a
//     short send itself and a send completes only with its full length or an
//     error. The sends are queued as SQEs while completions are processed and
//     submitted with the wait in one io_uring_enter per iteration.
//   - Waiting: a send on loopback normally completes during the submission,
//     and its completion alone would end a wait for one event, costing a
//     second io_uring_enter per iteration. With -wait count (the default) the
//     wait asks for 1 + the number of sends just submitted, i.e. for one
//     event beyond them. That is used only when every byte to send is in
//     the kernel's hands: no older send still in flight and no bytes queued
//     behind a send (a completion may then be needed to move queued bytes,
//     and a send that finds the socket full completes late, so the wait is
//     for 1). Otherwise a late send completion only delays freeing its
//     buffer until the next event. -wait plain always waits for 1.
//   - Closing: a connection closes once it is marked closing and neither its
//     receive nor a send is outstanding, so the kernel never reads a freed
//     buffer and a descriptor number is not reused under a pending request;
//     closes decided by the server (bad request, send error) shut the socket
//     down, which ends the multishot receive. user_data carries a generation
//     so a stale completion is recognised.

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	kAccept = 1
	kRecv   = 2
	kSend   = 3
)

func ud(kind uint64, gen uint32, fd int) uint64 {
	return kind<<56 | uint64(gen&0xffffff)<<32 | uint64(uint32(fd))
}

type uconn struct {
	fd        int
	gen       uint32
	fr        framer
	out       []byte // bytes of the send in flight (the kernel reads them)
	pend      []byte // bytes queued behind it
	sending   bool
	recvArmed bool
	closing   bool
}

type uringSrv struct {
	r        *ring
	br       *bufRing
	lfd      int
	o        options
	conns    []*uconn
	gen      uint32
	inflight int // sends submitted without a completion yet
	queued   int // connections with bytes queued behind their send
	newSends int // sends queued since the last enter
	resp     canned
	stats    struct{ enters, counted, cqes, sendCQEs, rearms, enobufs uint64 }
}

// serveUring serves with io_uring, or with epoll if io_uring cannot be set up.
func serveUring(lfd int, o options, log io.Writer) error {
	r, err := newRing(1024, o.setupFlags, o.simFail)
	var br *bufRing
	if err == nil {
		br, err = r.newBufRing(o.nbufs, o.bufSize, 0)
		if err != nil {
			unix.Close(r.fd)
		}
	}
	if err != nil {
		if _, ok := err.(*errSetup); ok {
			fmt.Fprintf(log, "uringspike: %v; falling back to epoll\n", err)
			return serveEpoll(lfd, o)
		}
		return err
	}
	if o.regRing {
		if err := r.registerRing(); err != nil {
			fmt.Fprintf(log, "uringspike: registering the ring fd: %v (continuing without)\n", err)
		}
	}
	s := &uringSrv{r: r, br: br, lfd: lfd, o: o}
	if o.stats {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGINT, unix.SIGTERM)
		go func() {
			<-ch
			st := &s.stats // racy read of plain counters: good enough at exit
			fmt.Fprintf(log, "uringspike: enters=%d counted-waits=%d cqes=%d send-cqes=%d recv-rearms=%d enobufs=%d\n", st.enters, st.counted, st.cqes, st.sendCQEs, st.rearms, st.enobufs)
			os.Exit(0)
		}()
	}
	s.armAccept()
	return s.run()
}

func (s *uringSrv) armAccept() {
	q := s.r.getSQE()
	q.opcode = opAccept
	q.fd = int32(s.lfd)
	q.ioprio = acceptMultishot
	q.opFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	q.userData = ud(kAccept, 0, s.lfd)
}

func (s *uringSrv) armRecv(c *uconn) {
	q := s.r.getSQE()
	q.opcode = opRecv
	q.fd = int32(c.fd)
	q.ioprio = recvMultishot
	q.flags = sqeBufSelect
	q.bufGroup = 0
	q.userData = ud(kRecv, c.gen, c.fd)
	c.recvArmed = true
}

func (s *uringSrv) queueSend(c *uconn) {
	q := s.r.getSQE()
	q.opcode = opSend
	q.fd = int32(c.fd)
	q.addr = uint64(uintptr(unsafe.Pointer(&c.out[0])))
	q.len = uint32(len(c.out))
	q.opFlags = unix.MSG_WAITALL | unix.MSG_NOSIGNAL
	q.userData = ud(kSend, c.gen, c.fd)
	c.sending = true
	s.inflight++
	s.newSends++
}

func (s *uringSrv) run() error {
	r := s.r
	for {
		min := uint32(1)
		if s.o.countWait && s.inflight == s.newSends && s.queued == 0 {
			min += uint32(s.newSends)
			if s.newSends > 0 {
				s.stats.counted++
			}
		}
		s.newSends = 0
		var err error
		switch s.o.waitCall {
		case waitSys:
			_, err = r.enter(min, false)
		case waitRaw:
			_, err = r.enter(min, true)
		case waitHold:
			// submit and run task work without blocking; block only if that
			// brought fewer completions than the wait asks for
			_, err = r.enter(0, true)
			if err == nil && r.ready() < min {
				s.stats.enters++
				_, err = r.enter(min, false)
			}
		}
		if err != nil {
			return fmt.Errorf("io_uring_enter: %w", err)
		}
		s.stats.enters++
		if s.o.http {
			s.resp.refresh()
		}
		head := *r.cqHead
		tail := loadAcquire(r.cqTail)
		for ; head != tail; head++ {
			e := r.cqes[head&r.cqMask]
			s.stats.cqes++
			s.complete(e.userData, e.res, e.flags)
		}
		storeRelease(r.cqHead, head)
		s.br.publish()
	}
}

func (s *uringSrv) lookup(u uint64) *uconn {
	fd := int(uint32(u))
	if fd >= len(s.conns) {
		return nil
	}
	c := s.conns[fd]
	if c == nil || c.gen&0xffffff != uint32(u>>32)&0xffffff {
		return nil
	}
	return c
}

func (s *uringSrv) complete(u uint64, res int32, flags uint32) {
	switch u >> 56 {
	case kAccept:
		if res >= 0 {
			s.accepted(int(res))
		} else if res != -int32(unix.ECONNABORTED) && res != -int32(unix.EINTR) {
			fmt.Printf("uringspike: accept: %v\n", unix.Errno(-res))
		}
		if flags&cqeFMore == 0 {
			s.armAccept()
		}
	case kRecv:
		c := s.lookup(u)
		if flags&cqeFBuffer != 0 {
			bid := uint16(flags >> cqeBufferShift)
			if res > 0 && c != nil && !c.closing {
				s.onData(c, s.br.buf(bid, int(res)))
			}
			s.br.put(bid)
		}
		if c == nil || flags&cqeFMore != 0 {
			return
		}
		c.recvArmed = false
		switch {
		case c.closing:
		case res > 0:
			s.stats.rearms++
			s.armRecv(c)
		case res == -int32(unix.ENOBUFS):
			s.stats.enobufs++
			s.armRecv(c) // buffers are back in the ring once this batch is published
		default: // EOF or error
			c.closing = true
		}
		s.maybeFinish(c)
	case kSend:
		s.stats.sendCQEs++
		c := s.lookup(u)
		s.inflight--
		if c == nil {
			return
		}
		c.sending = false
		switch {
		case res < 0:
			s.shut(c)
		case int(res) < len(c.out):
			c.out = c.out[res:]
			s.queueSend(c)
		case len(c.pend) > 0:
			s.queued--
			c.out, c.pend = c.pend, c.out[:0]
			if !c.closing {
				s.queueSend(c)
			}
		}
		s.maybeFinish(c)
	}
}

func (s *uringSrv) accepted(fd int) {
	setNoDelay(fd)
	for fd >= len(s.conns) {
		s.conns = append(s.conns, make([]*uconn, len(s.conns)+1024)...)
	}
	s.gen++
	c := &uconn{fd: fd, gen: s.gen}
	s.conns[fd] = c
	s.armRecv(c)
}

func (s *uringSrv) onData(c *uconn, data []byte) {
	if s.o.http {
		reqs, bad := c.fr.feed(data)
		if bad {
			s.shut(c)
			return
		}
		if reqs == 0 {
			return
		}
		if c.sending {
			if len(c.pend) == 0 {
				s.queued++
			}
			c.pend = s.resp.appendN(c.pend, reqs)
			return
		}
		c.out = s.resp.appendN(c.out[:0], reqs)
		s.queueSend(c)
		return
	}
	if c.sending {
		if len(c.pend) == 0 {
			s.queued++
		}
		c.pend = append(c.pend, data...)
		return
	}
	c.out = append(c.out[:0], data...)
	s.queueSend(c)
}

// shut marks c closing and shuts the socket down, which ends its receive.
func (s *uringSrv) shut(c *uconn) {
	if c.closing {
		return
	}
	c.closing = true
	if c.recvArmed {
		unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(c.fd), unix.SHUT_RDWR, 0)
	}
}

func (s *uringSrv) maybeFinish(c *uconn) {
	if c.closing && !c.sending && len(c.pend) > 0 {
		s.queued--
		c.pend = nil
	}
	if c.closing && !c.recvArmed && !c.sending {
		s.conns[c.fd] = nil
		unix.Close(c.fd)
	}
}
