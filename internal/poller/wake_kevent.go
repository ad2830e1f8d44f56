//go:build darwin || dragonfly || freebsd

package poller

import "golang.org/x/sys/unix"

// kwaker wakes a kqueue with a user event (EVFILT_USER), so it needs no
// descriptor of its own. Its ident lives in EVFILT_USER's own namespace and
// cannot collide with a descriptor's filters.
type kwaker struct {
	kq int
}

// wakeIdent is the ident of the user event.
const wakeIdent = 0

func (w *kwaker) open(kq int) error {
	w.kq = kq
	var ev [1]unix.Kevent_t
	// EV_CLEAR resets the trigger when Wait retrieves it, so many wakes
	// coalesce into one report.
	unix.SetKevent(&ev[0], wakeIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	_, err := unix.Kevent(kq, ev[:], nil, nil)
	return err
}

func (w *kwaker) wake() error {
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], wakeIdent, unix.EVFILT_USER, 0)
	ev[0].Fflags = unix.NOTE_TRIGGER
	for {
		_, err := unix.Kevent(w.kq, ev[:], nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// is reports whether e is the wake-up event.
func (w *kwaker) is(e *unix.Kevent_t) bool { return e.Filter == unix.EVFILT_USER }

// drain does nothing: EV_CLEAR has reset the trigger already.
func (w *kwaker) drain() {}

// close does nothing: the user event goes away with the kqueue.
func (w *kwaker) close() {}
