//go:build unix && !(dragonfly || freebsd || linux)

package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// These systems (macOS among them) have no accept4, or x/sys/unix does not
// offer it: a new descriptor is made close-on-exec and nonblocking after the
// fact, under syscall.ForkLock so that no fork+exec in between inherits it
// (what Go's own net package does).

// socket returns a new nonblocking, close-on-exec socket.
func socket(family, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// accept takes the next connection waiting on the listener fd, as a
// nonblocking, close-on-exec descriptor; unix.EAGAIN means none is waiting.
func accept(fd int) (int, error) {
	for {
		syscall.ForkLock.RLock()
		nfd, _, err := unix.Accept(fd)
		if err == nil {
			unix.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return -1, err
		}
		if err := unix.SetNonblock(nfd, true); err != nil {
			unix.Close(nfd)
			return -1, err
		}
		return nfd, nil
	}
}
