//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

import (
	"time"

	"golang.org/x/sys/unix"
)

// kqueue is the BSD and macOS backend. Read and Write are separate filters
// (EVFILT_READ, EVFILT_WRITE); Edge adds EV_CLEAR and OneShot EV_ONESHOT.
// Kevent_t.Udata has a different type on each system, so the generation is
// not stored in the kernel: regs, indexed by fd, keeps it, and Wait stamps
// events from there.
type kqueue struct {
	fd   int
	wake kwaker
	regs []kqReg
	evs  []unix.Kevent_t
	ch   [1]unix.Kevent_t // scratch change for ctl
	ts   unix.Timespec    // scratch timeout for Wait
}

// kqReg is the state of one descriptor, at regs[fd].
type kqReg struct {
	gen uint32 // stamped on every Event
	ev  Events // the interest last given to Modify; cleared once a OneShot fires
}

// natives lists the system's own backend, for Names and Open.
var natives = []builtin{{"kqueue", NewKqueue}}

// NewKqueue returns a kqueue backend.
func NewKqueue() (Poller, error) {
	fd, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	p := &kqueue{fd: fd, evs: make([]unix.Kevent_t, 256)}
	if err := p.wake.open(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return p, nil
}

// Name returns "kqueue".
func (p *kqueue) Name() string { return "kqueue" }

// Fd returns the kqueue descriptor, readable whenever Wait has something to
// report.
func (p *kqueue) Fd() int { return p.fd }

// ctl applies one change to one filter.
func (p *kqueue) ctl(fd, filter, flags int) error {
	unix.SetKevent(&p.ch[0], fd, filter, flags)
	for {
		_, err := unix.Kevent(p.fd, p.ch[:], nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// Modify adds, changes or removes the interest for fd; see Poller. Each
// filter wanted in next is added with EV_ADD, which also rearms a fired
// OneShot and re-adds a filter the kernel dropped when the fd was closed. A
// filter whose Edge or OneShot flag changes is deleted first, because EV_ADD
// does not change the flags of an existing filter.
func (p *kqueue) Modify(fd int, gen uint32, prev, next Events) error {
	if p.fd < 0 {
		return ErrClosed
	}
	flags := unix.EV_ADD
	if next&Edge != 0 {
		flags |= unix.EV_CLEAR
	}
	if next&OneShot != 0 {
		flags |= unix.EV_ONESHOT
	}
	const mode = Edge | OneShot
	for _, f := range [2]struct {
		bit    Events
		filter int
	}{{Read, unix.EVFILT_READ}, {Write, unix.EVFILT_WRITE}} {
		var err error
		switch {
		case next&f.bit != 0 && prev&f.bit != 0 && prev&mode != next&mode:
			if err = p.del(fd, f.filter); err == nil {
				err = p.ctl(fd, f.filter, flags)
			}
		case next&f.bit != 0:
			err = p.ctl(fd, f.filter, flags)
		case prev&f.bit != 0:
			err = p.del(fd, f.filter)
		}
		if err != nil {
			return err
		}
	}
	if fd >= 0 {
		if fd >= len(p.regs) {
			p.regs = append(p.regs, make([]kqReg, fd+1-len(p.regs))...)
		}
		p.regs[fd] = kqReg{gen: gen, ev: next}
	}
	return nil
}

// Forget forgets fd before the caller closes fd (see Forgetter): closing a
// descriptor removes every filter on it, whoever else holds its open file,
// so no kevent call is needed, shared or not.
func (p *kqueue) Forget(fd int, prev Events, shared bool) error {
	if p.fd < 0 {
		return ErrClosed
	}
	if fd >= 0 && fd < len(p.regs) {
		p.regs[fd] = kqReg{}
	}
	return nil
}

// del deletes a filter; one that is gone already (a fired OneShot, a closed
// fd) counts as deleted.
func (p *kqueue) del(fd, filter int) error {
	err := p.ctl(fd, filter, unix.EV_DELETE)
	if err == unix.ENOENT || err == unix.EBADF {
		err = nil
	}
	return err
}

// Wait waits for events and reports up to len(out) of them, merging the read
// and write reports of one fd when the kernel returns them together; see
// Poller.
func (p *kqueue) Wait(out []Event, timeout time.Duration) (int, error) {
	if p.fd < 0 {
		return 0, ErrClosed
	}
	var ts *unix.Timespec
	if timeout >= 0 {
		p.ts = unix.NsecToTimespec(int64(timeout))
		ts = &p.ts
	}
	evs := p.evs
	if len(out) < len(evs) {
		evs = evs[:len(out)]
	}
	n, err := unix.Kevent(p.fd, nil, evs, ts)
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, err
	}
	j := 0
	for i := 0; i < n; i++ {
		e := &evs[i]
		if p.wake.is(e) {
			p.wake.drain()
			continue
		}
		fd := int(e.Ident)
		var r Events
		switch e.Filter {
		case unix.EVFILT_READ:
			r = Read
		case unix.EVFILT_WRITE:
			r = Write
		}
		if e.Flags&unix.EV_EOF != 0 {
			r |= Hangup
			if e.Fflags != 0 { // a socket error
				r |= Error
			}
		}
		if e.Flags&unix.EV_ERROR != 0 {
			r |= Error
		}
		if j > 0 && out[j-1].Fd == int32(fd) {
			out[j-1].Ready |= r
			continue
		}
		if fd >= len(p.regs) || p.regs[fd].ev&ReadWrite == 0 {
			continue // the other filter of a OneShot that has fired
		}
		reg := &p.regs[fd]
		out[j] = Event{Fd: int32(fd), Gen: reg.gen, Ready: r}
		j++
		if reg.ev&OneShot != 0 {
			// One report per OneShot registration: drop the filter that
			// did not fire (the kernel dropped the one that did).
			if reg.ev&ReadWrite == ReadWrite {
				other := unix.EVFILT_WRITE
				if r&Read == 0 {
					other = unix.EVFILT_READ
				}
				p.del(fd, other)
			}
			reg.ev = 0
		}
	}
	// A full batch means more may be waiting: grow for the next call.
	if n == len(p.evs) && len(p.evs) < 4096 && len(out) > len(p.evs) {
		p.evs = make([]unix.Kevent_t, 2*len(p.evs))
	}
	return j, nil
}

// Wake makes the current or next Wait return; it is safe from any goroutine.
func (p *kqueue) Wake() error { return p.wake.wake() }

// Close releases the kqueue and the wake-up descriptor, if any.
func (p *kqueue) Close() error {
	if p.fd < 0 {
		return ErrClosed
	}
	err := unix.Close(p.fd)
	p.fd = -1
	p.wake.close()
	return err
}
