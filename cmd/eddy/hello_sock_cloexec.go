//go:build dragonfly || freebsd || linux

package main

import "golang.org/x/sys/unix"

// On these systems a descriptor is born nonblocking and close-on-exec, in
// the system call that creates it: no other goroutine's fork+exec can
// inherit it in between, and no fcntl call follows. (hello_sock_fallback.go
// does the same in more steps elsewhere.)

// socket returns a new nonblocking, close-on-exec socket.
func socket(family, typ, proto int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

// accept takes the next connection waiting on the listener fd, as a
// nonblocking, close-on-exec descriptor; unix.EAGAIN means none is waiting.
func accept(fd int) (int, error) {
	for {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != unix.EINTR {
			return nfd, err
		}
	}
}
