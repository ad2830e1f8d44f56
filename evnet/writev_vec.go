//go:build darwin || linux || openbsd

package evnet

// The flush's writev(2), one system call for the queue's buffers.

import "golang.org/x/sys/unix"

// writev writes bufs with one writev system call. It returns the bytes
// written and the bytes offered.
func writev(fd int, bufs [][]byte) (n, offered int, err error) {
	for _, b := range bufs {
		offered += len(b)
	}
	n, err = unix.Writev(fd, bufs)
	return max(n, 0), offered, err
}
