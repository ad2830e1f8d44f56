//go:build unix && !(darwin || linux || openbsd)

package evnet

// The flush's writev without writev(2): one write per buffer.

import "golang.org/x/sys/unix"

// writev writes the first of bufs, and returns the bytes written and
// offered: x/sys/unix offers no writev here. The
// caller loops while the kernel takes everything, so the bytes and their
// order are the same, at the cost of a system call per buffer.
func writev(fd int, bufs [][]byte) (n, offered int, err error) {
	n, err = unix.Write(fd, bufs[0])
	return max(n, 0), len(bufs[0]), err
}
