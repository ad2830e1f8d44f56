//go:build unix

package poller

import (
	"time"

	"golang.org/x/sys/unix"
)

// poll is the portable backend, on poll(2). fds is the table handed to the
// kernel, with the wake-up descriptor in slot 0; regs, indexed by fd, gives
// the slot (0: not registered), generation and interest of each descriptor.
//
// Edge is reported level-triggered. OneShot is emulated: once a OneShot slot
// has reported, its events are cleared and its fd negated, which poll(2)
// ignores (so not even POLLHUP comes back); the slot stays until the next
// Modify rearms it or removes it.
//
// A descriptor that is not open is not refused by Modify (poll has no
// registration step to fail); Wait reports it as Error (POLLNVAL) instead.
type poll struct {
	fds    []unix.PollFd
	regs   []pollReg
	wake   waker
	closed bool
	next   int // slot where the next scan for ready descriptors starts
}

// pollReg is the state of one descriptor, at regs[fd].
type pollReg struct {
	slot int32  // index in fds; 0 when not registered
	gen  uint32 // stamped on every Event
	ev   Events // the interest last given to Modify
}

// NewPoll returns a poll(2) backend. It works on every unix, and scans all
// registered descriptors on every Wait.
func NewPoll() (Poller, error) {
	p := &poll{}
	if err := p.wake.open(); err != nil {
		return nil, err
	}
	p.fds = append(make([]unix.PollFd, 0, 64), unix.PollFd{Fd: int32(p.wake.rfd), Events: unix.POLLIN})
	return p, nil
}

// Name returns "poll".
func (p *poll) Name() string { return "poll" }

// Modify adds, changes or removes the interest for fd; see Poller.
func (p *poll) Modify(fd int, gen uint32, prev, next Events) error {
	if p.closed {
		return ErrClosed
	}
	if fd < 0 {
		return unix.EBADF
	}
	if next&ReadWrite == 0 {
		if fd < len(p.regs) && p.regs[fd].slot != 0 {
			p.remove(fd)
		}
		return nil
	}
	if fd >= len(p.regs) {
		p.regs = append(p.regs, make([]pollReg, fd+1-len(p.regs))...)
	}
	r := &p.regs[fd]
	if r.slot == 0 {
		r.slot = int32(len(p.fds))
		p.fds = append(p.fds, unix.PollFd{})
	}
	f := unix.PollFd{Fd: int32(fd)}
	if next&Read != 0 {
		f.Events |= unix.POLLIN
	}
	if next&Write != 0 {
		f.Events |= unix.POLLOUT
	}
	p.fds[r.slot] = f
	r.gen, r.ev = gen, next
	return nil
}

// Forget drops fd's slot before the caller closes fd (see Forgetter): no
// system call, the table being the process's own.
func (p *poll) Forget(fd int, prev Events, shared bool) error {
	return p.Modify(fd, 0, prev, 0)
}

// remove frees fd's slot by moving the last slot into it.
func (p *poll) remove(fd int) {
	s, last := p.regs[fd].slot, len(p.fds)-1
	if int(s) != last {
		moved := p.fds[last]
		p.fds[s] = moved
		if moved.Fd < 0 {
			moved.Fd = ^moved.Fd // a disarmed OneShot slot
		}
		p.regs[moved.Fd].slot = s
	}
	p.fds = p.fds[:last]
	p.regs[fd] = pollReg{}
}

// Wait polls the table and reports up to len(out) ready descriptors; see
// Poller.
func (p *poll) Wait(out []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	n, err := unix.Poll(p.fds, waitMillis(timeout))
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, err
	}
	if p.fds[0].Revents != 0 {
		p.wake.drain()
		n--
	}
	// poll fills in revents for every slot; stop once all n are found. The
	// scan starts after the slot last reported and wraps round, so that
	// when out is too short for every ready descriptor, the ones left out
	// come first next time instead of starving.
	j, m := 0, len(p.fds)-1 // registered slots are 1..m
	start := p.next
	if start < 1 || start > m {
		start = 1
	}
	for k := 0; k < m && n > 0 && j < len(out); k++ {
		i := start + k
		if i > m {
			i -= m
		}
		f := &p.fds[i]
		if f.Revents == 0 {
			continue
		}
		n--
		var r Events
		if f.Revents&(unix.POLLIN|unix.POLLPRI) != 0 {
			r |= Read
		}
		if f.Revents&unix.POLLOUT != 0 {
			r |= Write
		}
		if f.Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			r |= Error
		}
		if f.Revents&unix.POLLHUP != 0 {
			r |= Hangup
		}
		reg := &p.regs[f.Fd]
		out[j] = Event{Fd: f.Fd, Gen: reg.gen, Ready: r}
		j++
		p.next = i + 1
		if reg.ev&OneShot != 0 {
			f.Fd, f.Events = ^f.Fd, 0
		}
	}
	return j, nil
}

// Registered reports whether fd is registered; see Registry.
func (p *poll) Registered(fd int) bool { return p.reg(fd) != nil }

// Gen returns the generation of fd's registration, or zero; see Registry.
func (p *poll) Gen(fd int) uint32 {
	if r := p.reg(fd); r != nil {
		return r.gen
	}
	return 0
}

// Interest returns the interest registered for fd, or zero when it is not
// registered or is a OneShot slot disarmed by its report; see Registry.
func (p *poll) Interest(fd int) Events {
	if r := p.reg(fd); r != nil && p.fds[r.slot].Fd >= 0 {
		return r.ev
	}
	return 0
}

// reg returns fd's registration, or nil.
func (p *poll) reg(fd int) *pollReg {
	if fd < 0 || fd >= len(p.regs) || p.regs[fd].slot == 0 {
		return nil
	}
	return &p.regs[fd]
}

// Wake makes the current or next Wait return; it is safe from any goroutine.
func (p *poll) Wake() error { return p.wake.wake() }

// Close releases the wake-up descriptor. The registered descriptors belong
// to the caller and stay open.
func (p *poll) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	p.wake.close()
	p.fds, p.regs = nil, nil
	return nil
}
