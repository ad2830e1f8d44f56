//go:build linux

package poller

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// waker is the wake-up descriptor: on Linux one eventfd, whose counter any
// goroutine may bump and the loop resets.
type waker struct {
	rfd int
}

func (w *waker) open() error {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err
	}
	w.rfd = fd
	return nil
}

var wakeOne = binary.NativeEndian.AppendUint64(nil, 1)

// wake bumps the counter. EAGAIN means the counter is saturated, which still
// leaves the descriptor readable, so it counts as success.
func (w *waker) wake() error {
	for {
		_, err := unix.Write(w.rfd, wakeOne)
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		}
		return err
	}
}

// drain resets the counter, so that the descriptor is no longer readable.
func (w *waker) drain() {
	var buf [8]byte
	for {
		_, err := unix.Read(w.rfd, buf[:])
		if err != unix.EINTR {
			return
		}
	}
}

func (w *waker) close() {
	if w.rfd >= 0 {
		unix.Close(w.rfd)
		w.rfd = -1
	}
}
