//go:build linux

package poller

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoll is the Linux backend. Each registration carries its fd in
// EpollEvent.Fd and its generation in EpollEvent.Pad.
type epoll struct {
	fd   int
	wake waker
	evs  []unix.EpollEvent
	// noPwait2 is set once epoll_pwait2 (Linux 5.11) turned out to be
	// missing or forbidden; HoldWait then uses ppoll on the epoll fd.
	noPwait2 bool
}

// natives lists the system's own backend, for Names and Open.
var natives = []builtin{{"epoll", NewEpoll}}

// NewEpoll returns an epoll backend.
func NewEpoll() (Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &epoll{fd: fd, evs: make([]unix.EpollEvent, 256)}
	if err := p.wake.open(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.wake.rfd), Pad: -1}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, p.wake.rfd, &ev); err != nil {
		p.wake.close()
		unix.Close(fd)
		return nil, err
	}
	return p, nil
}

func (p *epoll) Name() string { return "epoll" }

// Fd returns the epoll descriptor, readable whenever Wait has something to report.
func (p *epoll) Fd() int { return p.fd }

func epollBits(ev Events) uint32 {
	var b uint32
	if ev&Read != 0 {
		b |= unix.EPOLLIN
	}
	if ev&Write != 0 {
		b |= unix.EPOLLOUT
	}
	if ev&Edge != 0 {
		b |= unix.EPOLLET
	}
	if ev&OneShot != 0 {
		b |= unix.EPOLLONESHOT
	}
	return b
}

func (p *epoll) Modify(fd int, gen uint32, prev, next Events) error {
	if p.fd < 0 {
		return ErrClosed
	}
	if next&ReadWrite == 0 {
		if prev&ReadWrite == 0 {
			return nil
		}
		err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, fd, nil)
		if err == unix.ENOENT || err == unix.EBADF {
			err = nil // closed already: the kernel dropped it
		}
		return err
	}
	ev := unix.EpollEvent{Events: epollBits(next), Fd: int32(fd), Pad: int32(gen)}
	if prev&ReadWrite == 0 {
		err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &ev)
		if err == unix.EEXIST {
			err = unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, &ev)
		}
		return err
	}
	err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, &ev)
	if err == unix.ENOENT {
		err = unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &ev)
	}
	return err
}

// Forget drops fd's registration before the caller closes fd; see
// Forgetter. The kernel removes an epoll registration when the last
// reference to its open file is closed, so only a shared descriptor costs
// an epoll_ctl: removed now, while fd still names the file, or never.
func (p *epoll) Forget(fd int, prev Events, shared bool) error {
	if p.fd < 0 {
		return ErrClosed
	}
	if !shared || prev&ReadWrite == 0 {
		return nil
	}
	return p.Modify(fd, 0, prev, 0)
}

func (p *epoll) Wait(out []Event, timeout time.Duration) (int, error) {
	if p.fd < 0 {
		return 0, ErrClosed
	}
	evs := p.evs
	if len(out) < len(evs) {
		evs = evs[:len(out)]
	}
	n, err := unix.EpollWait(p.fd, evs, waitMillis(timeout))
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, err
	}
	return p.deliver(evs[:n], out), nil
}

// HoldWait waits up to d with raw system calls, which the Go runtime does
// not account as system calls, so that the calling goroutine keeps its
// processor (see Holder). It uses epoll_pwait2, whose timeout has
// nanosecond resolution, and where the kernel lacks it (before 5.11) or a
// sandbox forbids it, ppoll on the epoll descriptor followed by a Wait
// that does not block.
func (p *epoll) HoldWait(out []Event, d time.Duration) (int, bool, error) {
	if p.fd < 0 {
		return 0, true, ErrClosed
	}
	ts := unix.NsecToTimespec(int64(d))
	tsp := &ts
	if d < 0 {
		tsp = nil // until an event
	}
	if !p.noPwait2 {
		evs := p.evs
		if len(out) < len(evs) {
			evs = evs[:len(out)]
		}
		n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.fd),
			uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(unsafe.Pointer(tsp)), 0, 0)
		switch e {
		case 0:
			return p.deliver(evs[:n], out), n > 0, nil
		case unix.EINTR:
			return 0, false, nil
		case unix.ENOSYS, unix.EPERM:
			p.noPwait2 = true
		default:
			return 0, true, e
		}
	}
	pfd := unix.PollFd{Fd: int32(p.fd), Events: unix.POLLIN}
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1,
		uintptr(unsafe.Pointer(tsp)), 0, 0, 0)
	if e != 0 || n == 0 {
		return 0, false, nil
	}
	n2, err := p.Wait(out, 0)
	return n2, true, err
}

// deliver converts the kernel's events into out, draining the wake-up
// descriptor instead of reporting it, and returns how many it stored.
func (p *epoll) deliver(evs []unix.EpollEvent, out []Event) int {
	j := 0
	for i := range evs {
		e := &evs[i]
		if e.Fd == int32(p.wake.rfd) && e.Pad == -1 {
			p.wake.drain()
			continue
		}
		var r Events
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLPRI) != 0 {
			r |= Read
		}
		if e.Events&unix.EPOLLOUT != 0 {
			r |= Write
		}
		if e.Events&unix.EPOLLERR != 0 {
			r |= Error
		}
		if e.Events&unix.EPOLLHUP != 0 {
			r |= Hangup
		}
		out[j] = Event{Fd: e.Fd, Gen: uint32(e.Pad), Ready: r}
		j++
	}
	// A full batch means more may be waiting: grow for the next call.
	if len(evs) == len(p.evs) && len(p.evs) < 4096 && len(out) > len(p.evs) {
		p.evs = make([]unix.EpollEvent, 2*len(p.evs))
	}
	return j
}

func (p *epoll) Wake() error { return p.wake.wake() }

func (p *epoll) Close() error {
	if p.fd < 0 {
		return ErrClosed
	}
	err := unix.Close(p.fd)
	p.fd = -1
	p.wake.close()
	return err
}
