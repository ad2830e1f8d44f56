package main

// The epoll backend: a Go copy of shared/bench/cref/epollsrv.c. One
// level-triggered epoll set; on readable, one read into a 64 KiB buffer and
// the reply written straight away; only a short write keeps the rest and
// switches the connection to EPOLLOUT until it drains. Nonblocking calls are
// raw system calls (as evnet does); only the wait tells the Go scheduler.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

type econn struct {
	fr  framer
	out []byte // unwritten reply bytes (EPOLLOUT armed while non-empty)
}

type epollSrv struct {
	epfd  int
	lfd   int
	http  bool
	conns []*econn
	rbuf  []byte
	obuf  []byte
	resp  canned
}

func rawRead(fd int, p []byte) (int, unix.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

func rawWrite(fd int, p []byte) (int, unix.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

func setNoDelay(fd int) {
	one := int32(1)
	unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
}

func serveEpoll(lfd int, o options) error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	s := &epollSrv{epfd: epfd, lfd: lfd, http: o.http, rbuf: make([]byte, 64<<10)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return err
	}
	evs := make([]unix.EpollEvent, 512)
	for {
		n, err := s.wait(evs, o.waitCall)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return err
		}
		if s.http {
			s.resp.refresh()
		}
		for i := 0; i < n; i++ {
			fd := int(evs[i].Fd)
			ev := evs[i].Events
			if fd == lfd {
				s.accept()
				continue
			}
			if fd >= len(s.conns) || s.conns[fd] == nil {
				continue
			}
			if ev&unix.EPOLLOUT != 0 {
				s.writable(fd)
			} else if ev&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				s.readable(fd)
			}
		}
	}
}

func (s *epollSrv) accept() {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(s.lfd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if e != 0 {
			if e == unix.EINTR || e == unix.ECONNABORTED {
				continue
			}
			return
		}
		fd := int(r)
		setNoDelay(fd)
		for fd >= len(s.conns) {
			s.conns = append(s.conns, make([]*econn, len(s.conns)+1024)...)
		}
		s.conns[fd] = &econn{}
		if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			s.close(fd)
		}
	}
}

func (s *epollSrv) close(fd int) {
	s.conns[fd] = nil
	unix.Close(fd) // also leaves the epoll set
}

// sendOrKeep writes p and keeps what the socket did not take; false: closed.
func (s *epollSrv) sendOrKeep(fd int, c *econn, p []byte) bool {
	off := 0
	for off < len(p) {
		w, e := rawWrite(fd, p[off:])
		if e == 0 {
			off += w
			continue
		}
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			break
		}
		return false
	}
	if off < len(p) {
		c.out = append(c.out[:0], p[off:]...)
		unix.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)})
	}
	return true
}

func (s *epollSrv) readable(fd int) {
	c := s.conns[fd]
	n, e := rawRead(fd, s.rbuf)
	if e == unix.EAGAIN || e == unix.EINTR {
		return
	}
	if e != 0 || n == 0 {
		s.close(fd)
		return
	}
	data := s.rbuf[:n]
	if !s.http {
		if !s.sendOrKeep(fd, c, data) {
			s.close(fd)
		}
		return
	}
	reqs, bad := c.fr.feed(data)
	if bad {
		s.close(fd)
		return
	}
	if reqs == 0 {
		return
	}
	s.obuf = s.resp.appendN(s.obuf[:0], reqs)
	if !s.sendOrKeep(fd, c, s.obuf) {
		s.close(fd)
	}
}

func (s *epollSrv) writable(fd int) {
	c := s.conns[fd]
	for len(c.out) > 0 {
		w, e := rawWrite(fd, c.out)
		if e == 0 {
			c.out = c.out[w:]
			continue
		}
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			return
		}
		s.close(fd)
		return
	}
	c.out = nil
	unix.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

func rawEpollWait(epfd int, evs []unix.EpollEvent, msec int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// wait blocks for events: sys, a scheduler-visible epoll_wait; raw, one the
// scheduler does not see; hold, as eddy's loop: a raw look first
// (timeout 0), then a scheduler-visible block only if nothing was ready.
func (s *epollSrv) wait(evs []unix.EpollEvent, how int) (int, error) {
	switch how {
	case waitRaw:
		return rawEpollWait(s.epfd, evs, -1)
	case waitHold:
		if n, err := rawEpollWait(s.epfd, evs, 0); n > 0 || err != nil {
			return n, err
		}
	}
	return unix.EpollWait(s.epfd, evs, -1)
}
