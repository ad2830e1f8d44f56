//go:build dragonfly || freebsd || linux

package sock

import "golang.org/x/sys/unix"

// On these systems a descriptor is born nonblocking and close-on-exec, in
// the same system call that creates it: no other goroutine's fork+exec can
// inherit it in between, and there is no extra fcntl call.

// Socket returns a new nonblocking, close-on-exec socket.
func Socket(family, typ, proto int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

// Accept takes the next connection waiting on the listener fd, as a
// nonblocking, close-on-exec descriptor; unix.EAGAIN means none is waiting.
func Accept(fd int) (int, error) {
	for {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != unix.EINTR {
			return nfd, err
		}
	}
}
