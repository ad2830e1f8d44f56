//go:build unix && !linux

package poller

import "golang.org/x/sys/unix"

// waker is the wake-up descriptor where there is no eventfd: a nonblocking
// pipe. Any goroutine may write a byte to wfd; the loop watches rfd and
// empties the pipe.
type waker struct {
	rfd int // read end, watched by the backend
	wfd int // write end, written by wake
}

func (w *waker) open() error {
	r, wr, err := newPipe()
	if err != nil {
		return err
	}
	w.rfd, w.wfd = r, wr
	return nil
}

// wake writes one byte. EAGAIN means the pipe is full, which still leaves
// the read end readable, so it counts as success.
func (w *waker) wake() error {
	b := [1]byte{1}
	for {
		_, err := unix.Write(w.wfd, b[:])
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		}
		return err
	}
}

// drain empties the pipe, so that the read end is no longer readable.
func (w *waker) drain() {
	var buf [128]byte
	for {
		n, err := unix.Read(w.rfd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(buf) {
			return
		}
	}
}

func (w *waker) close() {
	if w.rfd >= 0 {
		unix.Close(w.rfd)
		unix.Close(w.wfd)
		w.rfd, w.wfd = -1, -1
	}
}
