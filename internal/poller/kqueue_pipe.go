//go:build netbsd || openbsd

package poller

import "golang.org/x/sys/unix"

// kwaker wakes a kqueue through a pipe where there is no EVFILT_USER: the
// read end is registered for EVFILT_READ, and events on that ident are the
// wake-up.
type kwaker struct {
	waker
}

func (w *kwaker) open(kq int) error {
	if err := w.waker.open(); err != nil {
		return err
	}
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], w.rfd, unix.EVFILT_READ, unix.EV_ADD)
	if _, err := unix.Kevent(kq, ev[:], nil, nil); err != nil {
		w.waker.close()
		return err
	}
	return nil
}

// is reports whether e is the wake-up event.
func (w *kwaker) is(e *unix.Kevent_t) bool {
	return e.Filter == unix.EVFILT_READ && int(e.Ident) == w.rfd
}
